import { z } from 'zod';
import { StreamdeskError } from '../../errors.js';
import type { WritebackTarget } from '../../tenants/registry.js';
import { sendToPeer } from './http.js';
import type { TargetPolicy } from './target-policy.js';
import type { ZohoTokenCache } from './zoho-oauth.js';

type ServiceDeskPlus = Extract<WritebackTarget, { type: 'servicedesk-plus' }>;

const noteId = z.union([z.string().min(1), z.number().int()]).transform(String);
/**
 * The part of the "add request note" answer we read. On-premises SDP answers `{"note": {"id": …}}`;
 * the cloud edition names it `request_note`.
 */
const addNoteAnswer = z.union([
  z.object({ note: z.object({ id: noteId }) }).transform((answer) => answer.note.id),
  z.object({ request_note: z.object({ id: noteId }) }).transform((answer) => answer.request_note.id),
]);

export type WrittenNote = { noteId: string | null; status: number };

export type NoteOptions = {
  tenant: string;
  timeoutMs: number;
  signal: AbortSignal;
  targetPolicy: TargetPolicy;
  zohoTokens: ZohoTokenCache;
};

/** The API root: `{baseUrl}/api/v3/`, whether or not the operator already ended the base URL with `api/v3`. */
function apiRoot(baseUrl: string): string {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return base.endsWith('/api/v3/') ? base : `${base}api/v3/`;
}

/**
 * Adds a private note to a request with the ServiceDesk Plus REST API v3:
 * POST {baseUrl}/api/v3/requests/{requestId}/notes, form field `input_data`. On-premises sends the
 * technician key in `authtoken`; Cloud sends `Authorization: Zoho-oauthtoken <access token>` and,
 * when that token is turned down (401), buys a new one and tries once more.
 */
export async function addServiceDeskPlusNote(
  target: ServiceDeskPlus,
  requestId: string,
  descriptionHtml: string,
  options: NoteOptions,
): Promise<WrittenNote> {
  const url = new URL(`requests/${encodeURIComponent(requestId)}/notes`, apiRoot(target.baseUrl));
  const note = {
    description: descriptionHtml,
    show_to_requester: false,
    mark_first_response: false,
    add_to_linked_requests: false,
  };
  const post = (credentials: Record<string, string>, secrets: string[], returnStatuses: number[]) =>
    sendToPeer({
      peer: 'ServiceDesk Plus',
      url,
      init: {
        method: 'POST',
        headers: {
          ...credentials,
          accept: 'application/vnd.manageengine.sdp.v3+json',
          'content-type': 'application/x-www-form-urlencoded',
        },
        // Cloud documents the note as `request_note`, on-premises as `note`.
        body: new URLSearchParams({
          input_data: JSON.stringify(target.auth ? { request_note: note } : { note }),
        }).toString(),
      },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      targetPolicy: options.targetPolicy,
      secrets,
      returnStatuses,
    });
  let response: Response;
  const { auth } = target;
  if (auth) {
    const secrets = (token: string) => [token, auth.clientSecret, auth.refreshToken];
    const token = await options.zohoTokens.get(auth, options);
    response = await post({ authorization: `Zoho-oauthtoken ${token}` }, secrets(token), [401]);
    if (response.status === 401) {
      await response.body?.cancel();
      const renewed = await options.zohoTokens.replace(auth, token, options);
      response = await post({ authorization: `Zoho-oauthtoken ${renewed}` }, secrets(renewed), []);
    }
  } else {
    response = await post({ authtoken: target.authToken ?? '' }, [target.authToken ?? ''], []);
  }
  const body: unknown = await response.json().catch(() => undefined);
  const parsed = addNoteAnswer.safeParse(body);
  if (!parsed.success) {
    // The note was probably added; retrying could add it twice. Dead-letter for an operator to check.
    throw new StreamdeskError(
      'WRITEBACK_REJECTED',
      `ServiceDesk Plus answered ${response.status} to POST ${url.origin}${url.pathname} without a note id`,
    );
  }
  return { noteId: parsed.data, status: response.status };
}
