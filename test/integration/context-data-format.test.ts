import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/admin/csv.js';
import { checkNetwork } from '../../src/admin/network.js';
import { testDatabaseUrl } from '../support/env.js';

describe('CSV records', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, CRLF or LF, and skips a BOM and blank lines', () => {
    const text = '\uFEFFid,title,body\r\nKB-1,"Printer, floor 2","Say ""hello""\nthen restart"\r\n\r\nKB-2,Plain,x\n';
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['id', 'title', 'body'] },
      { line: 2, fields: ['KB-1', 'Printer, floor 2', 'Say "hello"\nthen restart'] },
      { line: 5, fields: ['KB-2', 'Plain', 'x'] },
    ]);
    expect(parseCsv('a,b\n1,')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', ''] },
    ]);
  });

  it('refuses a quoted field that is never closed, naming its line', () => {
    expect(() => parseCsv('id,title\n1,"open\n2,x')).toThrow('line 2: a quoted field is not closed');
  });
});

describe('asset networks', () => {
  const accepted = [
    '10.0.0.5',
    '10.20.0.0/16',
    '0.0.0.0/0',
    '2001:db8::/32',
    '2001:db8:100::42',
    '::ffff:10.0.0.1/128',
    'fe80::/10',
  ];
  const refused: [string, string][] = [
    ['10.20.1.1/16', 'the network is 10.20.0.0/16'],
    ['2001:db8::1/64', 'has bits set to the right of its /64 prefix'],
    ['10.0.0.0/33', 'is not a prefix length for IPv4'],
    ['10.0.0.256', 'is not an IP address or a CIDR network'],
    ['host.example', 'is not an IP address or a CIDR network'],
    ['10.0.0.0/8/1', 'is not an IP address or a CIDR network'],
  ];

  it('accepts what Postgres cidr accepts and refuses what it would refuse, saying why', async () => {
    const client = new pg.Client({ connectionString: testDatabaseUrl });
    await client.connect();
    try {
      for (const value of accepted) {
        const checked = checkNetwork(value);
        expect(checked, value).toHaveProperty('network');
        await expect(
          client.query('SELECT $1::cidr', ['network' in checked ? checked.network : '']),
        ).resolves.toBeDefined();
      }
      for (const [value, reason] of refused) {
        const checked = checkNetwork(value);
        expect('error' in checked && checked.error, value).toContain(reason);
        await expect(client.query('SELECT $1::cidr', [value]), value).rejects.toThrow();
      }
    } finally {
      await client.end();
    }
  });
});
