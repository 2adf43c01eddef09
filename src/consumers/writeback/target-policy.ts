import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { StreamdeskError } from '../../errors.js';
import type { WritebackTarget } from '../../tenants/registry.js';

export type TargetPolicy = Readonly<{
  /** WRITEBACK_ALLOW_PRIVATE: loopback, private and link-local targets are allowed (local helpdesks, tests). */
  allowPrivate: boolean;
  /** Every address a host name resolves to; the system resolver unless a test gives another. */
  resolve?: (hostname: string) => Promise<string[]>;
}>;

/**
 * Addresses a tenant must not make streamdesk call: its own host, the cloud metadata service,
 * internal networks. One list per family: node matches IPv4 addresses against IPv4-mapped IPv6 rules.
 */
const internalV4 = new BlockList();
const internalV6 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, 169.254.169.254 included
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  internalV4.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 96], // unspecified, loopback, IPv4-compatible
  ['::ffff:0:0', 96], // IPv4-mapped: an IPv4 address in IPv6 clothing
  ['64:ff9b::', 96], // NAT64 of an IPv4 address
  ['2002::', 16], // 6to4, embeds an IPv4 address
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local
  ['ff00::', 8], // multicast
] as const)
  internalV6.addSubnet(network, prefix, 'ipv6');

const refused = (message: string) => new StreamdeskError('WRITEBACK_TARGET_REFUSED', message);

function checkAddress(address: string, shown: string): void {
  const family = isIP(address);
  if ((family === 4 && internalV4.check(address, 'ipv4')) || (family === 6 && internalV6.check(address, 'ipv6'))) {
    throw refused(
      `The write-back target ${shown} is not a public address (loopback, private, link-local, unspecified or IPv4-in-IPv6); set WRITEBACK_ALLOW_PRIVATE=true to allow it`,
    );
  }
}

/** Where a target points, for messages: origin and path, never credentials or a query string. */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * What can be decided from the URL alone, at creation and before every call: http(s), no user
 * info (credentials belong in the target's own fields, never in a URL that ends up in messages),
 * and, unless private targets are allowed, no internal IP literal and no localhost name. The URL
 * parser has already turned decimal, octal and hex IPv4 forms into dotted quads.
 */
export function checkTargetUrl(value: string | URL, policy: TargetPolicy): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw refused('The write-back target is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw refused(`The write-back target must be an http or https URL (got ${url.protocol})`);
  if (url.username || url.password)
    throw refused(
      `The write-back target ${describeUrl(url)} carries credentials in the URL; put them in the target's token or secret instead`,
    );
  if (policy.allowPrivate) return url;
  const hostname = url.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (hostname === 'localhost' || hostname.endsWith('.localhost'))
    throw refused(
      `The write-back target ${describeUrl(url)} is this host; set WRITEBACK_ALLOW_PRIVATE=true to allow it`,
    );
  checkAddress(hostname, describeUrl(url));
  return url;
}

const systemResolve = async (hostname: string) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

/**
 * The URL check, then every address the host resolves to. Run right before each call, so a name
 * that was public at creation and now resolves to an internal address is refused.
 */
export async function checkTargetAddress(value: string | URL, policy: TargetPolicy): Promise<URL> {
  const url = checkTargetUrl(value, policy);
  if (policy.allowPrivate) return url;
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(hostname) !== 0) return url;
  let addresses: string[];
  try {
    addresses = await (policy.resolve ?? systemResolve)(hostname);
  } catch (error) {
    const code =
      typeof error === 'object' && error !== null && 'code' in error
        ? String((error as { code: unknown }).code)
        : 'lookup failed';
    throw new StreamdeskError(
      'WRITEBACK_FAILED',
      `The write-back target ${describeUrl(url)} could not be resolved (${code})`,
      undefined,
      { cause: error },
    );
  }
  for (const address of addresses) checkAddress(address, `${describeUrl(url)} (${address})`);
  return url;
}

/** The URLs a write-back target calls: none, the helpdesk, and for Zoho OAuth its accounts server too. */
export function targetUrlsOf(target: WritebackTarget): string[] {
  switch (target.type) {
    case 'none':
      return [];
    case 'servicedesk-plus':
      return target.auth ? [target.baseUrl, target.auth.accountsUrl] : [target.baseUrl];
    case 'webhook':
      return [target.url];
  }
}

/** The check at creation (admin API, CLI): refuses with WRITEBACK_TARGET_REFUSED; an unresolvable name is refused too. */
export async function checkNewWritebackTarget(target: WritebackTarget, policy: TargetPolicy): Promise<void> {
  for (const url of targetUrlsOf(target)) {
    try {
      await checkTargetAddress(url, policy);
    } catch (error) {
      if (error instanceof StreamdeskError && error.code === 'WRITEBACK_FAILED') throw refused(error.message);
      throw error;
    }
  }
}
