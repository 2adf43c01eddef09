import { z } from 'zod';
import { StreamdeskError } from '../../errors.js';
import type { WritebackTarget } from '../../tenants/registry.js';
import { sendToPeer } from './http.js';
import type { TargetPolicy } from './target-policy.js';

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

/**
 * Adds a private note to a request with the ServiceDesk Plus REST API v3:
 * POST {baseUrl}/api/v3/requests/{requestId}/notes, header `authtoken`, form field `input_data`.
 */
export async function addServiceDeskPlusNote(
  target: ServiceDeskPlus,
  requestId: string,
  descriptionHtml: string,
  options: { timeoutMs: number; signal: AbortSignal; targetPolicy: TargetPolicy },
): Promise<WrittenNote> {
  const url = new URL(`api/v3/requests/${encodeURIComponent(requestId)}/notes`, target.baseUrl.endsWith('/') ? target.baseUrl : `${target.baseUrl}/`);
  const inputData = { note: { description: descriptionHtml, show_to_requester: false, mark_first_response: false, add_to_linked_requests: false } };
  const response = await sendToPeer({
    peer: 'ServiceDesk Plus',
    url,
    init: {
      method: 'POST',
      headers: {
        authtoken: target.authToken,
        accept: 'application/vnd.manageengine.sdp.v3+json',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ input_data: JSON.stringify(inputData) }).toString(),
    },
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    targetPolicy: options.targetPolicy,
    secrets: [target.authToken],
  });
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const parsed = addNoteAnswer.safeParse(body);
  if (!parsed.success) {
    // The note was probably added; retrying could add it twice. Dead-letter for an operator to check.
    throw new StreamdeskError('WRITEBACK_REJECTED', `ServiceDesk Plus answered ${response.status} to POST ${url.origin}${url.pathname} without a note id`);
  }
  return { noteId: parsed.data, status: response.status };
}
