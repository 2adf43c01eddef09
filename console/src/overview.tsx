import { useEffect, useState } from 'preact/hooks';
import { api, type HistoryPoint, type Overview, type Tenant } from './api.js';
import { LineChart } from './chart.js';
import { formatDuration, formatTime } from './format.js';
import { href } from './router.js';
import { ErrorNote, Heading } from './ui.js';

const number = new Intl.NumberFormat();
const show = (value: number | null) => (value === null ? '—' : number.format(value));

/** Live numbers over Server-Sent Events: the browser reconnects by itself when the stream drops. */
function useOverviewStream(chartTenant: string) {
  const [overview, setOverview] = useState<Overview>();
  const [history, setHistory] = useState<HistoryPoint[]>();
  const [problem, setProblem] = useState<string>();
  useEffect(() => {
    setHistory(undefined);
    const source = new EventSource(
      `/v1/admin/overview/stream${chartTenant ? `?tenant=${encodeURIComponent(chartTenant)}` : ''}`,
    );
    source.addEventListener('overview', (event) => {
      setOverview(JSON.parse((event as MessageEvent<string>).data) as Overview);
      setProblem(undefined);
    });
    source.addEventListener('history', (event) =>
      setHistory((JSON.parse((event as MessageEvent<string>).data) as { points: HistoryPoint[] }).points),
    );
    source.addEventListener('problem', (event) =>
      setProblem((JSON.parse((event as MessageEvent<string>).data) as { message: string }).message),
    );
    source.onerror = () => {
      setProblem('The live connection to streamdesk dropped; reconnecting…');
      // An expired session also ends the stream: any admin call then answers 401 and shows the sign-in page.
      api('GET', '/v1/admin/tenants').catch(() => undefined);
    };
    return () => source.close();
  }, [chartTenant]);
  return { overview, history, problem };
}

export function OverviewPage({ tenants }: { tenants: Tenant[] }) {
  const [chartTenant, setChartTenant] = useState('');
  const { overview, history, problem } = useOverviewStream(chartTenant);
  const minutes = history?.map((point) => point.minute) ?? [];
  return (
    <section aria-labelledby="overview-title">
      <Heading>
        <span id="overview-title">Overview</span>
      </Heading>
      <p class="hint" aria-live="polite">
        {overview ? `Live; updated ${formatTime(overview.at)}.` : 'Connecting…'}
      </p>
      <ErrorNote message={problem} />
      {overview && overview.tenants.length === 0 ? (
        <p class="empty">
          No tenants yet: nothing flows. Create a tenant with <code>streamdesk tenant create &lt;id&gt;</code>.
        </p>
      ) : null}
      {overview?.tenants.map((tenant) => (
        <section class="tenant" key={tenant.tenant} aria-labelledby={`tenant-${tenant.tenant}`}>
          <h2 id={`tenant-${tenant.tenant}`}>{tenant.tenant}</h2>
          <dl class="figures">
            <div>
              <dt>Events in stream</dt>
              <dd data-testid={`stream-length-${tenant.tenant}`}>{number.format(tenant.streamLength)}</dd>
            </div>
            <div>
              <dt>Dead letters</dt>
              <dd data-testid={`dlq-${tenant.tenant}`}>
                {tenant.dlqLength > 0 ? (
                  <a href={href('dead-letters', { tenant: tenant.tenant })}>{number.format(tenant.dlqLength)}</a>
                ) : (
                  '0'
                )}
              </dd>
            </div>
          </dl>
          {tenant.groups.length === 0 ? (
            <p class="empty">
              No consumer group reads this tenant yet: start a worker and a projector (<code>streamdesk start</code>).
            </p>
          ) : (
            <table>
              <caption class="visually-hidden">Consumer groups of {tenant.tenant}</caption>
              <thead>
                <tr>
                  <th scope="col">Group</th>
                  <th scope="col" class="num">
                    Lag
                  </th>
                  <th scope="col" class="num">
                    Pending
                  </th>
                  <th scope="col" class="num">
                    Oldest pending
                  </th>
                  <th scope="col" class="num">
                    Live consumers
                  </th>
                  <th scope="col" class="num">
                    Stalled consumers
                  </th>
                  <th scope="col" class="num">
                    Done per second
                  </th>
                </tr>
              </thead>
              <tbody>
                {tenant.groups.map((group) => (
                  <tr key={group.name} class={group.stalledConsumers > 0 ? 'warn' : undefined}>
                    <th scope="row">{group.name}</th>
                    <td class="num">{show(group.lag)}</td>
                    <td class="num">{number.format(group.pending)}</td>
                    <td class="num">{formatDuration(group.oldestPendingAgeMs)}</td>
                    <td class="num">{number.format(group.liveConsumers)}</td>
                    <td class="num">{group.stalledConsumers > 0 ? <strong>{group.stalledConsumers}</strong> : '0'}</td>
                    <td class="num">{show(group.perSecond)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ))}
      <section aria-labelledby="history-title">
        <h2 id="history-title">Last hour{chartTenant ? ` of ${chartTenant}` : ', all tenants'}</h2>
        <span class="field">
          <label for="chart-tenant">Charts for</label>
          <select id="chart-tenant" value={chartTenant} onChange={(event) => setChartTenant(event.currentTarget.value)}>
            <option value="">All tenants</option>
            {tenants.map((tenant) => (
              <option key={tenant.id} value={tenant.id}>
                {tenant.id}
              </option>
            ))}
          </select>
        </span>
        {!history ? <p>Loading the last hour…</p> : null}
        {history && history.every((point) => point.writtenBack === 0 && point.inFlight === 0) ? (
          <p class="empty">No ticket was received or written back in the last hour.</p>
        ) : null}
        {history ? (
          <div class="charts">
            <LineChart
              title="Throughput"
              unit="tickets written back per minute"
              minutes={minutes}
              series={[{ label: 'written back', className: 's1', values: history.map((point) => point.writtenBack) }]}
            />
            <LineChart
              title="Latency, received → written back"
              unit="milliseconds"
              minutes={minutes}
              series={[
                { label: 'p50', className: 's1', values: history.map((point) => point.p50Ms) },
                { label: 'p95', className: 's2', values: history.map((point) => point.p95Ms) },
              ]}
            />
            <LineChart
              title="Lag: tickets in flight"
              unit="tickets received, not yet written back or failed"
              minutes={minutes}
              series={[{ label: 'in flight', className: 's3', values: history.map((point) => point.inFlight) }]}
            />
          </div>
        ) : null}
      </section>
    </section>
  );
}
