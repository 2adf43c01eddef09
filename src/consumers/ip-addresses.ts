import { isIP } from 'node:net';

/** Candidate runs of characters an IPv4 or IPv6 address can be written with. */
const candidateRun = /[0-9A-Fa-f:.]{2,}/g;
const ipv4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;

/**
 * The distinct IPv4 and IPv6 addresses mentioned in `text`, in order of first mention, at most
 * `limit`. Candidates are validated with node:net isIP, so times (10:30:00), MAC addresses and
 * version-like numbers with octets over 255 are not mistaken for addresses.
 */
export function extractIpAddresses(text: string, limit: number): string[] {
  const found = new Map<string, string>();
  for (const [run] of text.matchAll(candidateRun)) {
    const address = toAddress(run);
    if (!address) continue;
    const key = address.toLowerCase();
    if (!found.has(key)) found.set(key, key);
    if (found.size >= limit) break;
  }
  return [...found.values()];
}

/** The address a run of address characters holds, allowing for punctuation and a port around it. */
function toAddress(run: string): string | undefined {
  // Sentence punctuation after an address ("... from 10.0.0.5.") and a trailing colon ("10.0.0.5: down").
  const trimmed = run.replace(/\.+$/, '').replace(/(?<!:):$/, '');
  for (const candidate of [trimmed, ipv4WithPort.exec(trimmed)?.[1]]) {
    if (!candidate) continue;
    const family = isIP(candidate);
    // Words like "add::" or "Cafe::" are valid IPv6 but not addresses anyone wrote: require a digit.
    if (family === 4 || (family === 6 && /\d/.test(candidate))) return candidate;
  }
  return undefined;
}
