import { isIP } from 'node:net';

function ipv4Bits(address: string): bigint {
  return address.split('.').reduce((bits, octet) => (bits << 8n) + BigInt(Number(octet)), 0n);
}

function ipv6Bits(address: string): bigint {
  let text = address;
  // An embedded IPv4 tail (::ffff:10.0.0.1) becomes two hexadecimal groups.
  if (text.includes('.')) {
    const cut = text.lastIndexOf(':');
    const v4 = ipv4Bits(text.slice(cut + 1));
    text = `${text.slice(0, cut + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.reduce((bits, group) => (bits << 16n) + BigInt(Number.parseInt(group, 16)), 0n);
}

const ipv4Text = (bits: bigint) => [24n, 16n, 8n, 0n].map((shift) => String((bits >> shift) & 0xffn)).join('.');

/**
 * Checks an asset's network the way Postgres `cidr` will: an IP address (a single host) or an
 * address with a prefix length whose host bits are zero. Returns the text to store, or a message.
 */
export function checkNetwork(value: string): { network: string } | { error: string } {
  const [address = '', prefixText, extra] = value.trim().split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined)
    return { error: `"${value}" is not an IP address or a CIDR network such as 10.20.0.0/16` };
  const width = family === 4 ? 32 : 128;
  if (prefixText === undefined) return { network: address };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > width)
    return { error: `"/${prefixText}" is not a prefix length for IPv${family} (0 to ${width})` };
  const prefix = BigInt(prefixText);
  const bits = family === 4 ? ipv4Bits(address) : ipv6Bits(address);
  const hostMask = (1n << (BigInt(width) - prefix)) - 1n;
  if ((bits & hostMask) !== 0n) {
    const suggestion = family === 4 ? `; the network is ${ipv4Text(bits & ~hostMask)}/${prefixText}` : '';
    return { error: `${value} has bits set to the right of its /${prefixText} prefix${suggestion}` };
  }
  return { network: `${address}/${prefixText}` };
}
