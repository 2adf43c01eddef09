/** The admin API as the console calls it: the session cookie, plus the CSRF token on every change. */

export type GroupOverview = {
  name: string;
  lag: number | null;
  pending: number;
  oldestPendingAgeMs: number | null;
  consumers: number;
  liveConsumers: number;
  stalledConsumers: number;
  perSecond: number | null;
};
export type TenantOverview = { tenant: string; streamLength: number; dlqLength: number; groups: GroupOverview[] };
export type Overview = { at: string; tenants: TenantOverview[] };
export type HistoryPoint = {
  minute: string;
  writtenBack: number;
  p50Ms: number | null;
  p95Ms: number | null;
  inFlight: number;
};
export type Tenant = { id: string; name: string };
export type TicketSummary = {
  ticketId: string;
  status: string;
  subject: string | null;
  priority: string | null;
  suggestedPriority: string | null;
  receivedAt: string;
  writtenBackAt: string | null;
  failedAt: string | null;
};
export type TicketPage = { tickets: TicketSummary[]; nextCursor: string | null };
export type ArchivedEvent = {
  stream_id: string;
  event_id: string;
  type: string;
  version: number;
  traceparent?: string;
  data: unknown;
  occurred_at: string;
  recorded_at: string;
};
export type TicketDetail = {
  ticket: Record<string, unknown> & { ticket_id: string; status: string };
  events: ArchivedEvent[];
};
export type DeadLetter = {
  id: string;
  entry: string;
  group: string;
  code: string;
  message: string;
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
  event: Record<string, string>;
};
export type RowError = { row: number; line?: number; id?: string; messages: string[] };
export type ImportResult = { received: number; inserted: number; updated: number; errors: RowError[]; dryRun: boolean };
export type Asset = {
  id: string;
  hostname: string;
  network: string;
  site: string | null;
  kind: string | null;
  updatedAt: string;
};
export type KbArticle = { id: string; title: string; body: string; updatedAt: string };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

let csrfToken = '';
let onSignedOut: () => void = () => undefined;

export function setSession(token: string, signedOut: () => void): void {
  csrfToken = token;
  onSignedOut = signedOut;
}

export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  if (body !== undefined) headers['content-type'] = contentType;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(
      0,
      'NETWORK',
      'streamdesk did not answer. Check that it is running and that this computer can reach it.',
    );
  }
  if (response.status === 204) return undefined as T;
  const payload = (await response.json().catch(() => ({}))) as {
    error?: { code: string; message: string; details?: unknown };
  };
  if (!response.ok) {
    const error = payload.error ?? { code: 'HTTP', message: `streamdesk answered ${response.status}` };
    if (response.status === 401 && path !== '/console/api/session') onSignedOut();
    throw new ApiError(response.status, error.code, error.message, error.details);
  }
  return payload as T;
}

export const tenantPath = (tenant: string, rest: string) => `/v1/admin/tenants/${encodeURIComponent(tenant)}/${rest}`;
