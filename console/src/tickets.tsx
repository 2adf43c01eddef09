import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, tenantPath, type Tenant, type TicketDetail, type TicketPage as Page } from './api.js';
import { between, formatDuration, formatTime, localInputToIso, statusLabel } from './format.js';
import { href, navigate } from './router.js';
import { chosenTenant, ErrorNote, Heading, rememberTenant, TenantSelect } from './ui.js';

type Filters = { tenant: string; status: string; q: string; from: string; to: string };

export function TicketsPage({ tenants, params }: { tenants: Tenant[]; params: Record<string, string | undefined> }) {
  const tenant = chosenTenant(tenants, params.tenant);
  const applied: Filters = {
    tenant,
    status: params.status ?? '',
    q: params.q ?? '',
    from: params.from ?? '',
    to: params.to ?? '',
  };
  const [draft, setDraft] = useState<Filters>(applied);
  // The pages already passed, for "Newer"; other filters start again from the newest ticket.
  const [paging, setPaging] = useState<{ key: string; cursors: string[] }>({ key: '', cursors: [] });
  const [page, setPage] = useState<Page>();
  const [error, setError] = useState<string>();
  const key = JSON.stringify(applied);
  const cursors = paging.key === key ? paging.cursors : [];
  const setCursors = (next: string[]) => setPaging({ key, cursors: next });
  useEffect(() => setDraft(applied), [key]);
  useEffect(() => {
    if (!tenant) return;
    setPage(undefined);
    setError(undefined);
    const query = new URLSearchParams({ limit: '25' });
    if (applied.status) query.set('status', applied.status);
    if (applied.q) query.set('q', applied.q);
    const from = localInputToIso(applied.from);
    const to = localInputToIso(applied.to);
    if (from) query.set('from', from);
    if (to) query.set('to', to);
    const cursor = cursors.at(-1);
    if (cursor) query.set('cursor', cursor);
    api<Page>('GET', tenantPath(tenant, `tickets?${query}`)).then(setPage, (failure: Error) =>
      setError(failure.message),
    );
  }, [key, cursors.at(-1)]);

  const search = (event: Event) => {
    event.preventDefault();
    rememberTenant(draft.tenant);
    navigate('tickets', { ...draft });
  };
  const set = (field: keyof Filters) => (event: Event) =>
    setDraft({ ...draft, [field]: (event.currentTarget as HTMLInputElement).value });
  const filtered = applied.q || applied.status || applied.from || applied.to;
  return (
    <section>
      <Heading>Tickets</Heading>
      <form class="filters" role="search" aria-label="Find tickets" onSubmit={search}>
        <TenantSelect
          tenants={tenants}
          value={draft.tenant}
          onChange={(value) => setDraft({ ...draft, tenant: value })}
        />
        <span class="field">
          <label for="q">Text or ticket id</label>
          <input id="q" type="search" value={draft.q} onInput={set('q')} placeholder="e.g. vpn -printer" />
        </span>
        <span class="field">
          <label for="status">Status</label>
          <select id="status" value={draft.status} onChange={set('status')}>
            <option value="">Any</option>
            {Object.entries(statusLabel).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </span>
        <span class="field">
          <label for="from">Received from</label>
          <input id="from" type="datetime-local" value={draft.from} onInput={set('from')} />
        </span>
        <span class="field">
          <label for="to">Received before</label>
          <input id="to" type="datetime-local" value={draft.to} onInput={set('to')} />
        </span>
        <button type="submit">Search</button>
      </form>
      <ErrorNote message={error} />
      {!page && !error && tenant ? <p>Loading tickets…</p> : null}
      {page && page.tickets.length === 0 ? (
        <p class="empty">
          {filtered
            ? 'No ticket matches these filters. Remove a filter or try other words.'
            : `Tenant ${tenant} has no tickets yet. They appear here once the helpdesk sends its first webhook.`}
        </p>
      ) : null}
      {page && page.tickets.length > 0 ? (
        <p class="hint" role="status">
          {page.tickets.length} ticket(s){applied.q ? ` matching “${applied.q}”` : ''}
          {applied.status ? `, ${statusLabel[applied.status] ?? applied.status}` : ''}
          {page.nextCursor ? '; older ones on the next page' : ''}.
        </p>
      ) : null}
      {page && page.tickets.length > 0 ? (
        <table>
          <caption class="visually-hidden">Tickets of {tenant}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Ticket</th>
              <th scope="col">Subject</th>
              <th scope="col">Status</th>
              <th scope="col">Received</th>
              <th scope="col" class="num">
                Received → written back
              </th>
            </tr>
          </thead>
          <tbody>
            {page.tickets.map((ticket) => (
              <tr key={ticket.ticketId}>
                <th scope="row">
                  <a href={href(`tickets/${encodeURIComponent(tenant)}/${encodeURIComponent(ticket.ticketId)}`)}>
                    {ticket.ticketId}
                  </a>
                </th>
                <td>{ticket.subject ?? '—'}</td>
                <td>
                  <span class={`status ${ticket.status}`}>{statusLabel[ticket.status] ?? ticket.status}</span>
                </td>
                <td>{formatTime(ticket.receivedAt)}</td>
                <td class="num">{formatDuration(between(ticket.receivedAt, ticket.writtenBackAt))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div class="pager">
        <button
          type="button"
          class="secondary"
          disabled={cursors.length === 0}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Newer
        </button>
        <button
          type="button"
          class="secondary"
          disabled={!page?.nextCursor}
          onClick={() => page?.nextCursor && setCursors([...cursors, page.nextCursor])}
        >
          Older
        </button>
      </div>
    </section>
  );
}

const steps: [column: string, label: string][] = [
  ['received_at', 'Received'],
  ['context_gathered_at', 'Context gathered'],
  ['enhanced_at', 'Enhanced'],
  ['written_back_at', 'Written back'],
  ['failed_at', 'Failed'],
];

type Enhancement = {
  summary?: string;
  likelyCause?: string;
  suggestedCategory?: string;
  suggestedPriority?: string;
  nextSteps?: string[];
  confidence?: number;
  model?: string;
};
type Context = {
  similarTickets?: { ticketId: string; subject: string }[];
  assets?: { ip: string; hostname: string; site: string | null; kind: string | null; network: string }[];
  unmatchedIps?: string[];
  kbArticles?: { articleId: string; title: string }[];
};

export function TicketPage({ tenant, ticketId }: { tenant: string; ticketId: string }) {
  const [detail, setDetail] = useState<TicketDetail>();
  const [jaeger, setJaeger] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const load = () =>
    api<TicketDetail>('GET', tenantPath(tenant, `tickets/${encodeURIComponent(ticketId)}`)).then(
      (found) => {
        setDetail(found);
        setError(undefined);
      },
      (failure: Error) =>
        setError(
          failure instanceof ApiError && failure.code === 'NOT_FOUND'
            ? `No ticket ${ticketId} for ${tenant} yet: a ticket appears once the projector has stored it. Refresh in a moment, or check the id.`
            : failure.message,
        ),
    );
  useEffect(() => {
    setDetail(undefined);
    setError(undefined);
    void load();
    api<{ jaegerUiUrl: string | null }>('GET', '/v1/admin/console-settings').then(
      (settings) => setJaeger(settings.jaegerUiUrl),
      () => undefined,
    );
  }, [tenant, ticketId]);
  const ticket = detail?.ticket;
  const enhancement = ticket?.enhancement as Enhancement | null | undefined;
  const context = ticket?.context as Context | null | undefined;
  const failure = ticket?.failure as { code?: string; message?: string; stage?: string } | null | undefined;
  const traceId = detail?.events[0]?.traceparent?.split('-')[1];
  return (
    <section>
      <p>
        <a href={href('tickets', { tenant })}>← Tickets of {tenant}</a>
      </p>
      <Heading>Ticket {ticketId}</Heading>
      <div class="toolbar">
        {ticket ? (
          <span class={`status ${ticket.status}`} data-testid="ticket-status">
            {statusLabel[ticket.status] ?? ticket.status}
          </span>
        ) : null}
        <button type="button" class="secondary" onClick={() => void load()}>
          Refresh
        </button>
        {traceId && jaeger ? (
          <a href={`${jaeger}/trace/${traceId}`} target="_blank" rel="noreferrer">
            Trace in Jaeger
          </a>
        ) : null}
        {traceId && !jaeger ? <span class="hint">Trace id {traceId} (set JAEGER_UI_URL to link it)</span> : null}
      </div>
      <ErrorNote message={error} />
      {!detail && !error ? <p>Loading the ticket…</p> : null}
      {ticket ? (
        <>
          <p class="subject">{String(ticket.subject ?? '')}</p>
          <h2>Steps</h2>
          <table class="steps">
            <thead>
              <tr>
                <th scope="col">Step</th>
                <th scope="col">At</th>
                <th scope="col" class="num">
                  After the previous step
                </th>
              </tr>
            </thead>
            <tbody>
              {steps
                .filter(([column]) => ticket[column])
                .map(([column, label], index, shown) => (
                  <tr key={column}>
                    <th scope="row">{label}</th>
                    <td>{formatTime(String(ticket[column]), true)}</td>
                    <td class="num">
                      {index === 0
                        ? '—'
                        : formatDuration(between(String(ticket[shown[index - 1]![0]]), String(ticket[column])))}
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
          {failure ? (
            <p class="error">
              Failed{failure.stage ? ` in ${failure.stage}` : ''}: {failure.code} {failure.message}. See{' '}
              <a href={href('dead-letters', { tenant })}>dead letters</a> to re-drive it.
            </p>
          ) : null}
          <h2>Enhancement</h2>
          {enhancement ? (
            <dl class="pairs">
              <dt>Summary</dt>
              <dd>{enhancement.summary}</dd>
              <dt>Likely cause</dt>
              <dd>{enhancement.likelyCause}</dd>
              <dt>Category</dt>
              <dd>{enhancement.suggestedCategory}</dd>
              <dt>Priority</dt>
              <dd>{enhancement.suggestedPriority}</dd>
              <dt>Confidence</dt>
              <dd>{enhancement.confidence}</dd>
              <dt>Model</dt>
              <dd>{enhancement.model}</dd>
              <dt>Next steps</dt>
              <dd>
                <ol>
                  {enhancement.nextSteps?.map((step) => (
                    <li key={step}>{step}</li>
                  ))}
                </ol>
              </dd>
            </dl>
          ) : (
            <p class="empty">Not enhanced yet.</p>
          )}
          <h2>Context found</h2>
          {context ? (
            <div class="context" data-testid="ticket-context">
              <h3>Assets</h3>
              {context.assets?.length ? (
                <ul>
                  {context.assets.map((asset) => (
                    <li key={`${asset.ip}-${asset.hostname}`}>
                      {asset.ip}: <strong>{asset.hostname}</strong> ({asset.network}
                      {asset.site ? `, ${asset.site}` : ''}
                      {asset.kind ? `, ${asset.kind}` : ''})
                    </li>
                  ))}
                </ul>
              ) : (
                <p class="empty">No asset matched an IP address of the ticket.</p>
              )}
              {context.unmatchedIps?.length ? (
                <p>IP addresses no asset covers: {context.unmatchedIps.join(', ')}</p>
              ) : null}
              <h3>Knowledge-base articles</h3>
              {context.kbArticles?.length ? (
                <ul>
                  {context.kbArticles.map((article) => (
                    <li key={article.articleId}>
                      {article.articleId}: {article.title}
                    </li>
                  ))}
                </ul>
              ) : (
                <p class="empty">No article matched.</p>
              )}
              <h3>Similar tickets</h3>
              {context.similarTickets?.length ? (
                <ul>
                  {context.similarTickets.map((similar) => (
                    <li key={similar.ticketId}>
                      <a href={href(`tickets/${encodeURIComponent(tenant)}/${encodeURIComponent(similar.ticketId)}`)}>
                        {similar.ticketId}
                      </a>
                      : {similar.subject}
                    </li>
                  ))}
                </ul>
              ) : (
                <p class="empty">No similar ticket.</p>
              )}
            </div>
          ) : (
            <p class="empty">Context not gathered yet.</p>
          )}
          <h2>Event history</h2>
          {detail.events.length === 0 ? (
            <p class="empty">No event archived yet (the archiver may be behind).</p>
          ) : (
            <ol class="events" data-testid="event-history">
              {detail.events.map((event) => (
                <li key={event.event_id}>
                  <details>
                    <summary>
                      <strong>{event.type}</strong> v{event.version} · {formatTime(event.occurred_at, true)} · stream id{' '}
                      {event.stream_id}
                    </summary>
                    <pre>{JSON.stringify(event.data, null, 2)}</pre>
                  </details>
                </li>
              ))}
            </ol>
          )}
        </>
      ) : null}
    </section>
  );
}
