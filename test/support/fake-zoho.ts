import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, readBody } from './http.js';

/** A self client the fake accounts server knows. */
export type ZohoClient = { clientId: string; clientSecret: string; refreshTokens: string[] };

export type TokenRequest = { path: string; query: string; form: URLSearchParams };
export type CloudNoteRequest = {
  path: string;
  authorization: string | undefined;
  accept: string | undefined;
  contentType: string | undefined;
  inputData: unknown;
};

/** How the accounts server answers a token request it would otherwise grant. */
export type AccountsMode = 'grant' | 'server-error' | 'rate-limited';

export type FakeZoho = {
  accountsUrl: string;
  /** The SDP Cloud portal's base URL, e.g. `http://127.0.0.1:port/app/itdesk`. */
  baseUrl: string;
  tokenRequests: TokenRequest[];
  noteRequests: CloudNoteRequest[];
  /** Access tokens the API accepts; clear it to make every issued token expire. */
  validTokens: Set<string>;
  mode: AccountsMode;
  /** The portal answers 401 to every token while set. */
  portalRefusesTokens: boolean;
  close(): Promise<void>;
};

let nextNoteId = 170_000_000_000_001;

/**
 * Zoho's accounts server (POST /oauth/v2/token, refresh_token grant, answering refusals with 200
 * and an `error` field as Zoho does) and a ServiceDesk Plus Cloud portal (POST
 * /app/{portal}/api/v3/requests/{id}/notes, 401 for an unknown access token).
 */
export async function startFakeZoho(clients: ZohoClient[], portal = 'itdesk'): Promise<FakeZoho> {
  const tokenRequests: TokenRequest[] = [];
  const noteRequests: CloudNoteRequest[] = [];
  const validTokens = new Set<string>();
  let issued = 0;
  const state = { mode: 'grant' as AccountsMode, portalRefusesTokens: false };
  const json = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  const accounts = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const [path = '', query = ''] = (req.url ?? '').split('?');
      const form = new URLSearchParams((await readBody(req)).toString('utf8'));
      tokenRequests.push({ path, query, form });
      if (req.method !== 'POST' || path !== '/oauth/v2/token') return json(res, 404, { error: 'not found' });
      if (state.mode === 'server-error') return json(res, 503, { error: 'service unavailable' });
      if (state.mode === 'rate-limited')
        return json(res, 400, {
          error_description: 'You have made too many requests continuously. Please try again after some time.',
          error: 'Access Denied',
          status: 'failure',
        });
      if (form.get('grant_type') !== 'refresh_token') return json(res, 200, { error: 'unsupported_grant_type' });
      const client = clients.find((candidate) => candidate.clientId === form.get('client_id'));
      if (!client) return json(res, 200, { error: 'invalid_client' });
      if (client.clientSecret !== form.get('client_secret')) return json(res, 200, { error: 'invalid_client_secret' });
      if (!client.refreshTokens.includes(form.get('refresh_token') ?? ''))
        return json(res, 200, { error: 'invalid_code' });
      const token = `1000.access-${++issued}.${client.clientId}`;
      validTokens.add(token);
      return json(res, 200, {
        access_token: token,
        scope: 'SDPOnDemand.requests.ALL',
        api_domain: 'https://www.zohoapis.com',
        token_type: 'Bearer',
        expires_in: 3600,
      });
    })();
  });

  const portalServer = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const rawBody = (await readBody(req)).toString('utf8');
      const inputJson = new URLSearchParams(rawBody).get('input_data');
      const authorization = req.headers.authorization;
      noteRequests.push({
        path: req.url ?? '',
        authorization,
        accept: req.headers.accept,
        contentType: req.headers['content-type'],
        inputData: inputJson ? JSON.parse(inputJson) : undefined,
      });
      if (!new RegExp(`^/app/${portal}/api/v3/requests/[^/]+/notes$`).test(req.url ?? ''))
        return json(res, 404, { response_status: { status_code: 4000, status: 'failed' } });
      const token = /^Zoho-oauthtoken (.+)$/.exec(authorization ?? '')?.[1];
      if (!token || !validTokens.has(token) || state.portalRefusesTokens) {
        return json(res, 401, {
          response_status: {
            status_code: 4001,
            messages: [{ status_code: 4001, type: 'failed', message: 'UNAUTHORISED' }],
            status: 'failed',
          },
        });
      }
      const description =
        (JSON.parse(inputJson ?? '{}') as { request_note?: { description?: string } }).request_note?.description ?? '';
      return json(res, 201, {
        response_status: { status_code: 2000, status: 'success' },
        request_note: { id: String(nextNoteId++), description, show_to_requester: false },
      });
    })();
  });

  const accountsListener = await listenOnLoopback(accounts);
  const portalListener = await listenOnLoopback(portalServer);
  return {
    accountsUrl: `http://127.0.0.1:${accountsListener.port}`,
    baseUrl: `http://127.0.0.1:${portalListener.port}/app/${portal}`,
    tokenRequests,
    noteRequests,
    validTokens,
    get mode() {
      return state.mode;
    },
    set mode(mode: AccountsMode) {
      state.mode = mode;
    },
    get portalRefusesTokens() {
      return state.portalRefusesTokens;
    },
    set portalRefusesTokens(refuses: boolean) {
      state.portalRefusesTokens = refuses;
    },
    async close() {
      await Promise.all([accountsListener.close(), portalListener.close()]);
    },
  };
}
