import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, readBody } from './http.js';

/** One request as the fake helpdesk received it. */
export type HelpdeskRequest = {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  rawBody: string;
  /** The ServiceDesk Plus `input_data` form field, JSON-decoded, when the body is a form. */
  inputData: unknown;
};

export type HelpdeskReply = { status?: number; headers?: Record<string, string>; body?: unknown; delayMs?: number };

export type FakeHelpdesk = {
  url: string;
  requests: HelpdeskRequest[];
  close(): Promise<void>;
};

let nextNoteId = 90_000_000_000_001;

/** What ServiceDesk Plus (on-premises, API v3) answers to a note it added. */
export function sdpNoteAnswer(description = ''): {
  response_status: { status_code: number; status: string };
  note: { id: string; description: string; show_to_requester: boolean };
} {
  return {
    response_status: { status_code: 2000, status: 'success' },
    note: { id: String(nextNoteId++), description, show_to_requester: false },
  };
}

/**
 * A local helpdesk: by default it plays ServiceDesk Plus answering 201 with a new note id; `reply`
 * scripts other answers (errors, delays, a webhook receiver's answer).
 */
export async function startFakeHelpdesk(
  reply?: (request: HelpdeskRequest, index: number) => HelpdeskReply | undefined,
): Promise<FakeHelpdesk> {
  const requests: HelpdeskRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const rawBody = (await readBody(req)).toString('utf8');
      const form = req.headers['content-type']?.startsWith('application/x-www-form-urlencoded')
        ? new URLSearchParams(rawBody)
        : undefined;
      const inputJson = form?.get('input_data');
      const request: HelpdeskRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        rawBody,
        inputData: inputJson ? JSON.parse(inputJson) : undefined,
      };
      requests.push(request);
      const answer = reply?.(request, requests.length - 1) ?? {};
      if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
      const description = (request.inputData as { note?: { description?: string } } | undefined)?.note?.description;
      const body = answer.body ?? sdpNoteAnswer(description);
      if (!res.destroyed) {
        res
          .writeHead(answer.status ?? 201, { 'content-type': 'application/json', ...answer.headers })
          .end(typeof body === 'string' ? body : JSON.stringify(body));
      }
    })();
  });
  const { port, close } = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}`, requests, close };
}
