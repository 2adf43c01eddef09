import { useEffect, useState } from 'preact/hooks';

/** Hash routes: the server serves one page at /console, and the browser's back button works. */
export type Route = {
  page: 'overview' | 'tickets' | 'ticket' | 'dead-letters' | 'context';
  params: Record<string, string | undefined>;
};

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const params: Record<string, string | undefined> = Object.fromEntries(new URLSearchParams(query));
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'tickets' && parts[1] && parts[2])
    return { page: 'ticket', params: { ...params, tenant: parts[1], ticket: parts[2] } };
  if (parts[0] === 'tickets') return { page: 'tickets', params };
  if (parts[0] === 'dead-letters') return { page: 'dead-letters', params };
  if (parts[0] === 'context') return { page: 'context', params };
  return { page: 'overview', params };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

export function href(path: string, params: Record<string, string | undefined> = {}): string {
  const query = new URLSearchParams(
    Object.entries(params).filter((entry): entry is [string, string] => Boolean(entry[1])),
  ).toString();
  return `#/${path}${query ? `?${query}` : ''}`;
}

export function navigate(path: string, params: Record<string, string | undefined> = {}): void {
  location.hash = href(path, params);
}
