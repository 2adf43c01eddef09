import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, tenantPath, type DeadLetter, type Tenant } from './api.js';
import { formatTime } from './format.js';
import { href, navigate } from './router.js';
import { chosenTenant, Confirm, ErrorNote, Heading, rememberTenant, TenantSelect } from './ui.js';

type Redrive = { ids?: string[]; label: string };

export function DeadLettersPage({
  tenants,
  params,
}: {
  tenants: Tenant[];
  params: Record<string, string | undefined>;
}) {
  const tenant = chosenTenant(tenants, params.tenant);
  const [letters, setLetters] = useState<DeadLetter[]>();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [open, setOpen] = useState<string>();
  const [confirm, setConfirm] = useState<Redrive>();
  const [result, setResult] = useState<{ text: string; tickets: string[] }>();
  const [error, setError] = useState<string>();
  const load = () => {
    if (!tenant) return;
    setError(undefined);
    api<{ deadLetters: DeadLetter[] }>('GET', tenantPath(tenant, 'dlq')).then(
      (answer) => setLetters(answer.deadLetters),
      (failure: Error) => setError(failure.message),
    );
  };
  useEffect(() => {
    setLetters(undefined);
    setSelected(new Set());
    setResult(undefined);
    load();
  }, [tenant]);

  const redrive = async ({ ids }: Redrive) => {
    setConfirm(undefined);
    try {
      const answer = await api<{ redriven: number; missing: string[] }>(
        'POST',
        tenantPath(tenant, 'dlq/redrive'),
        ids ? { ids } : {},
      );
      const tickets = [
        ...new Set(
          (letters ?? [])
            .filter((letter) => (!ids || ids.includes(letter.id)) && !answer.missing.includes(letter.id))
            .map((letter) => letter.event.ticket)
            .filter((ticket): ticket is string => Boolean(ticket)),
        ),
      ];
      setResult({
        text: `Re-drove ${answer.redriven} dead letter(s)${answer.missing.length ? `; ${answer.missing.length} had already gone` : ''}.`,
        tickets,
      });
      setSelected(new Set());
      load();
    } catch (failure) {
      setError(`The re-drive failed: ${(failure as Error).message}`);
    }
  };
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  return (
    <section>
      <Heading>Dead letters</Heading>
      <p class="hint">
        Entries a stage gave up on after its last attempt. Re-driving puts an entry back on the tenant's stream for the
        stage that failed it; fix the cause first (see the error).
      </p>
      <div class="filters">
        <TenantSelect
          tenants={tenants}
          value={tenant}
          onChange={(value) => {
            rememberTenant(value);
            navigate('dead-letters', { tenant: value });
          }}
        />
        <button type="button" class="secondary" onClick={load}>
          Refresh
        </button>
      </div>
      <ErrorNote message={error} />
      {result ? (
        <div class="notice" role="status">
          <p>{result.text}</p>
          {result.tickets.length ? (
            <p>
              Follow the ticket(s) as they move on:{' '}
              {result.tickets.map((ticket, index) => (
                <span key={ticket}>
                  {index > 0 ? ', ' : ''}
                  <a href={href(`tickets/${encodeURIComponent(tenant)}/${encodeURIComponent(ticket)}`)}>{ticket}</a>
                </span>
              ))}
            </p>
          ) : null}
        </div>
      ) : null}
      {!letters && !error && tenant ? <p>Loading dead letters…</p> : null}
      {letters && letters.length === 0 ? (
        <p class="empty">No dead letters for {tenant}: every entry was handled.</p>
      ) : null}
      {letters && letters.length > 0 ? (
        <>
          <div class="toolbar">
            <button
              type="button"
              disabled={selected.size === 0}
              onClick={() => setConfirm({ ids: [...selected], label: `${selected.size} selected dead letter(s)` })}
            >
              Re-drive selected ({selected.size})
            </button>
            <button
              type="button"
              onClick={() => setConfirm({ label: `all ${letters.length} dead letter(s) of ${tenant}` })}
            >
              Re-drive all
            </button>
          </div>
          <table>
            <caption class="visually-hidden">Dead letters of {tenant}</caption>
            <thead>
              <tr>
                <th scope="col">
                  <span class="visually-hidden">Select</span>
                </th>
                <th scope="col">Ticket</th>
                <th scope="col">Stage</th>
                <th scope="col">Error</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col">Last failed</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {letters.map((letter) => (
                <Fragment key={letter.id}>
                  <tr>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Select dead letter ${letter.id}`}
                        checked={selected.has(letter.id)}
                        onChange={() => toggle(letter.id)}
                      />
                    </td>
                    <td>
                      {letter.event.ticket ? (
                        <a
                          href={href(
                            `tickets/${encodeURIComponent(tenant)}/${encodeURIComponent(letter.event.ticket)}`,
                          )}
                        >
                          {letter.event.ticket}
                        </a>
                      ) : (
                        '?'
                      )}
                    </td>
                    <td>{letter.group}</td>
                    <td>
                      <code>{letter.code}</code> {letter.message}
                    </td>
                    <td class="num">{letter.attempts}</td>
                    <td>{formatTime(letter.lastFailedAt)}</td>
                    <td class="actions">
                      <button
                        type="button"
                        class="secondary"
                        aria-expanded={open === letter.id}
                        onClick={() => setOpen(open === letter.id ? undefined : letter.id)}
                      >
                        Envelope
                      </button>
                      <button
                        type="button"
                        onClick={() =>
                          setConfirm({
                            ids: [letter.id],
                            label: `the dead letter of ticket ${letter.event.ticket ?? letter.id} (${letter.group})`,
                          })
                        }
                      >
                        Re-drive
                      </button>
                    </td>
                  </tr>
                  {open === letter.id ? (
                    <tr>
                      <td colSpan={7}>
                        <pre aria-label={`Envelope of ${letter.id}`}>
                          {JSON.stringify({ ...letter.event, data: parseData(letter.event.data) }, null, 2)}
                        </pre>
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
      {confirm ? (
        <Confirm
          title="Re-drive dead letters?"
          confirmLabel="Re-drive"
          onConfirm={() => void redrive(confirm)}
          onCancel={() => setConfirm(undefined)}
        >
          <p>
            This puts {confirm.label} back on the stream. The stage runs again; if the cause is not fixed it fails again
            and returns here.
          </p>
        </Confirm>
      ) : null}
    </section>
  );
}

function parseData(data: string | undefined): unknown {
  try {
    return data === undefined ? undefined : JSON.parse(data);
  } catch {
    return data;
  }
}
