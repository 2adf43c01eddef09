import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, setSession, type Tenant } from './api.js';
import { ContextDataPage } from './context-data.js';
import { DeadLettersPage } from './dead-letters.js';
import { OverviewPage } from './overview.js';
import { TicketPage, TicketsPage } from './tickets.js';
import { ErrorNote } from './ui.js';
import { useRoute, type Route } from './router.js';
import { viewerZone } from './format.js';

type Session = { csrfToken: string };

function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await api<Session>('POST', '/console/api/session', { token }));
    } catch (failure) {
      const known = failure instanceof ApiError ? failure : undefined;
      setError(
        known?.code === 'UNAUTHORIZED'
          ? 'That is not the admin token. Check ADMIN_TOKEN of this streamdesk and try again.'
          : (known?.message ?? String(failure)),
      );
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>streamdesk console</h1>
      <p>
        Sign in with the admin token (the <code>ADMIN_TOKEN</code> this streamdesk was started with).
      </p>
      <form onSubmit={(event) => void submit(event)}>
        <label for="token">Admin token</label>
        <input
          id="token"
          ref={input}
          type="password"
          autocomplete="current-password"
          required
          value={token}
          onInput={(event) => setToken(event.currentTarget.value)}
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <ErrorNote message={error} />
    </main>
  );
}

const sections: { route: Route['page']; href: string; label: string }[] = [
  { route: 'overview', href: '#/', label: 'Overview' },
  { route: 'tickets', href: '#/tickets', label: 'Tickets' },
  { route: 'dead-letters', href: '#/dead-letters', label: 'Dead letters' },
  { route: 'context', href: '#/context', label: 'Context data' },
];

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const route = useRoute();
  const [tenants, setTenants] = useState<Tenant[]>();
  const [error, setError] = useState<string>();
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    api<{ tenants: Tenant[] }>('GET', '/v1/admin/tenants').then(
      (answer) => setTenants(answer.tenants),
      (failure: Error) => setError(failure.message),
    );
  }, []);
  // After navigation, keyboard and screen-reader users start at the new page's heading.
  useEffect(() => main.current?.querySelector<HTMLElement>('h1')?.focus(), [route.page, route.params.ticket]);
  const page = route.page === 'ticket' ? 'tickets' : route.page;
  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          main.current?.querySelector<HTMLElement>('h1')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">streamdesk</span>
        <nav aria-label="Sections">
          <ul>
            {sections.map((section) => (
              <li key={section.route}>
                <a href={section.href} aria-current={page === section.route ? 'page' : undefined}>
                  {section.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="zone" title="Times are shown in this zone">
          Times in {viewerZone}
        </span>
        <button type="button" class="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" ref={main}>
        <ErrorNote message={error && `The tenants could not be loaded: ${error}`} />
        {!tenants && !error ? <p>Loading tenants…</p> : null}
        {tenants && route.page === 'overview' ? <OverviewPage tenants={tenants} /> : null}
        {tenants && route.page === 'tickets' ? <TicketsPage tenants={tenants} params={route.params} /> : null}
        {tenants && route.page === 'ticket' ? (
          <TicketPage tenant={route.params.tenant ?? ''} ticketId={route.params.ticket ?? ''} />
        ) : null}
        {tenants && route.page === 'dead-letters' ? <DeadLettersPage tenants={tenants} params={route.params} /> : null}
        {tenants && route.page === 'context' ? <ContextDataPage tenants={tenants} params={route.params} /> : null}
      </main>
    </>
  );
}

function App() {
  const [session, setSessionState] = useState<Session | null>();
  const signedOut = () => setSessionState(null);
  const signedIn = (value: Session) => {
    setSession(value.csrfToken, signedOut);
    setSessionState(value);
  };
  useEffect(() => {
    api<Session>('GET', '/console/api/session').then(signedIn, signedOut);
  }, []);
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={signedIn} />;
  const signOut = () => void api('DELETE', '/console/api/session').finally(signedOut);
  return <Shell onSignOut={signOut} />;
}

render(<App />, document.getElementById('app')!);
