import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContextStage, gatherContext, gatherContexts } from '../../src/consumers/stages/context.js';
import { extractIpAddresses } from '../../src/consumers/ip-addresses.js';
import { eventDataSchemas, type TicketEventOf } from '../../src/events.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { receivedEvent } from '../support/events.js';
import { pino } from 'pino';

let t: TestEnv;

async function seedTicket(tenant: string, id: string, subject: string, description: string): Promise<void> {
  await t.services.db.query(
    `INSERT INTO tickets (tenant_id, ticket_id, status, subject, description, updated_at, last_event_id, last_stream_id, version)
     VALUES ($1, $2, 'written_back', $3, $4, now(), gen_random_uuid(), '1-0', 1)`,
    [tenant, id, subject, description],
  );
}

async function seedAsset(
  tenant: string,
  id: string,
  hostname: string,
  network: string,
  site: string | null,
  kind: string | null,
): Promise<void> {
  await t.services.db.query(
    'INSERT INTO assets (tenant_id, asset_id, hostname, network, site, kind) VALUES ($1, $2, $3, $4, $5, $6)',
    [tenant, id, hostname, network, site, kind],
  );
}

async function seedArticle(tenant: string, id: string, title: string, body: string): Promise<void> {
  await t.services.db.query('INSERT INTO kb_articles (tenant_id, article_id, title, body) VALUES ($1, $2, $3, $4)', [
    tenant,
    id,
    title,
    body,
  ]);
}

beforeAll(async () => {
  t = await createTestEnv();
  // acme: eight VPN tickets (more than the five returned), a weaker match and unrelated ones.
  for (let i = 1; i <= 8; i++)
    await seedTicket(
      'acme',
      `VPN-${i}`,
      `VPN tunnel drops for user ${i}`,
      'AnyConnect VPN disconnects every few minutes from home.',
    );
  await seedTicket('acme', 'NET-1', 'Slow network in the warehouse', 'The VPN is fine but the network is slow.');
  await seedTicket('acme', 'PRN-1', 'Printer jammed', 'Paper jam on the second floor printer.');
  // The ticket being processed may already be projected: it must never count as similar to itself.
  await seedTicket('acme', 'NEW-1', 'VPN tunnel drops again', 'AnyConnect VPN disconnects.');
  // globex holds better matches for everything: none may leak into acme's context.
  await seedTicket(
    'globex',
    'G-1',
    'VPN tunnel drops VPN tunnel drops',
    'AnyConnect VPN disconnects VPN tunnel AnyConnect.',
  );

  await seedAsset('acme', 'hq-lan', 'hq-core-sw', '10.1.0.0/16', 'HQ', 'network');
  await seedAsset('acme', 'fs01', 'fs01', '10.1.2.15/32', 'HQ', 'file-server');
  await seedAsset('acme', 'vpn-gw', 'vpn-gw-01', '10.1.2.0/24', 'HQ', 'vpn-gateway');
  await seedAsset('acme', 'branch-v6', 'branch-lan', '2001:db8:1::/48', 'Branch', null);
  await seedAsset('globex', 'g-lan', 'globex-secret-host', '10.1.2.0/24', 'Globex HQ', 'network');
  await seedAsset('globex', 'g-any', 'globex-everything', '0.0.0.0/0', null, null);

  await seedArticle(
    'acme',
    'KB-VPN',
    'VPN disconnects with AnyConnect',
    'When the AnyConnect VPN tunnel drops, renew the client certificate and check the gateway.',
  );
  await seedArticle('acme', 'KB-PRN', 'Clearing a printer paper jam', 'Open tray 2 and remove the paper.');
  await seedArticle('acme', 'KB-MAIL', 'Mailbox full', 'Archive old mail.');
  await seedArticle('acme', 'KB-NET', 'Network troubleshooting', 'Check the switch. The VPN is a separate service.');
  await seedArticle(
    'globex',
    'G-KB-VPN',
    'VPN tunnel drops AnyConnect VPN',
    'VPN tunnel drops AnyConnect VPN disconnects.',
  );
});

afterAll(async () => {
  await t?.cleanup();
});

const newTicket = {
  id: 'NEW-1',
  subject: 'VPN tunnel drops again',
  description: [
    'AnyConnect VPN disconnects when I copy files from fs01 (10.1.2.15) and from 10.1.9.9.',
    'Also cannot reach 192.168.50.1. The branch site (2001:DB8:1::25) works.',
    'Started at 10:30:00 on the laptop with MAC 00:1a:2b:3c:4d:5e, build 1.2.3.456.',
  ].join('\n'),
};

describe('context stage', () => {
  it("ranks similar tickets of the same tenant, top five, never the ticket itself or another tenant's", async () => {
    const context = await gatherContext(t.services.db, 'acme', newTicket);
    expect(context.similarTickets).toHaveLength(5);
    const ids = context.similarTickets.map((similar) => similar.ticketId);
    expect(ids.every((id) => id.startsWith('VPN-'))).toBe(true);
    expect(ids).not.toContain('NEW-1');
    expect(ids).not.toContain('G-1');
    const ranks = context.similarTickets.map((similar) => similar.rank);
    expect([...ranks].sort((a, b) => b - a)).toEqual(ranks);
    expect(ranks.every((rank) => rank > 0)).toBe(true);
    expect(context.similarTickets[0]).toMatchObject({
      subject: expect.stringContaining('VPN tunnel drops'),
      status: 'written_back',
    });
  });

  it("matches IPv4 and IPv6 addresses to the tenant's assets by network containment, most specific first, and lists the rest", async () => {
    const context = await gatherContext(t.services.db, 'acme', newTicket);
    expect(context.assets).toEqual([
      { ip: '10.1.2.15', hostname: 'fs01', site: 'HQ', kind: 'file-server', network: '10.1.2.15/32' },
      { ip: '10.1.2.15', hostname: 'vpn-gw-01', site: 'HQ', kind: 'vpn-gateway', network: '10.1.2.0/24' },
      { ip: '10.1.2.15', hostname: 'hq-core-sw', site: 'HQ', kind: 'network', network: '10.1.0.0/16' },
      { ip: '10.1.9.9', hostname: 'hq-core-sw', site: 'HQ', kind: 'network', network: '10.1.0.0/16' },
      { ip: '2001:db8:1::25', hostname: 'branch-lan', site: 'Branch', kind: null, network: '2001:db8:1::/48' },
    ]);
    expect(context.unmatchedIps).toEqual(['192.168.50.1']);
    expect(JSON.stringify(context)).not.toContain('globex');
  });

  it('finds matching KB articles of the tenant only, best first, at most three, with an excerpt', async () => {
    const context = await gatherContext(t.services.db, 'acme', newTicket);
    expect(context.kbArticles.length).toBeGreaterThan(0);
    expect(context.kbArticles.length).toBeLessThanOrEqual(3);
    expect(context.kbArticles[0]).toMatchObject({
      articleId: 'KB-VPN',
      title: 'VPN disconnects with AnyConnect',
      excerpt: expect.stringContaining('renew the client certificate'),
    });
    expect(context.kbArticles.map((article) => article.articleId)).not.toContain('G-KB-VPN');
  });

  it('gives globex only globex data for the same text', async () => {
    const context = await gatherContext(t.services.db, 'globex', newTicket);
    expect(context.similarTickets.map((similar) => similar.ticketId)).toEqual(['G-1']);
    expect(context.kbArticles.map((article) => article.articleId)).toEqual(['G-KB-VPN']);
    expect(new Set(context.assets.map((asset) => asset.hostname))).toEqual(
      new Set(['globex-secret-host', 'globex-everything']),
    );
    // 0.0.0.0/0 covers every IPv4 address but no IPv6 one.
    expect(context.unmatchedIps).toEqual(['2001:db8:1::25']);
  });

  it('gathers each ticket of a batch what it gathers alone, in the batch order', async () => {
    const tickets = [
      newTicket,
      { id: 'X-2', subject: 'the', description: 'and or but' },
      { ...newTicket, id: 'VPN-1', description: 'No addresses here.' },
    ];
    const alone = [];
    for (const ticket of tickets) alone.push(await gatherContext(t.services.db, 'acme', ticket));
    expect(await gatherContexts(t.services.db, 'acme', tickets)).toEqual(alone);
    expect(alone[2]!.similarTickets.map((similar) => similar.ticketId)).not.toContain('VPN-1');
  });

  it('gathers the contexts of handlers running at once in one batch, each its own', async () => {
    const stage = createContextStage({ db: t.services.db });
    const events = ['acme', 'globex', 'acme'].map(
      (tenant, index) =>
        receivedEvent(tenant, `B-${index}`, {
          data: {
            action: 'ticket.created',
            ticket: { id: `B-${index}`, subject: newTicket.subject, description: newTicket.description },
            deliveryId: `b-${index}`,
          },
        }) as TicketEventOf<'ticket.received'>,
    );
    const ctx = (tenant: string) => ({
      tenant,
      attempt: 1,
      signal: new AbortController().signal,
      log: pino({ level: 'silent' }),
    });
    const outputs = await Promise.all(events.map((event) => stage.handle(event, ctx(event.tenant))));
    const similar = outputs.map(([followOn]) =>
      (followOn!.data as { context: { similarTickets: { ticketId: string }[] } }).context.similarTickets.map(
        (ticket) => ticket.ticketId,
      ),
    );
    expect(similar[1]).toEqual(['G-1']);
    expect(similar[0]).toEqual(similar[2]);
    expect(similar[0]).toHaveLength(5);
    expect(similar[0]).not.toContain('G-1');
  });

  it('returns an empty context for a tenant with no data and a ticket of stop words only', async () => {
    const context = await gatherContext(t.services.db, 'initech', {
      id: 'X-1',
      subject: 'the',
      description: 'and or but',
    });
    expect(context).toEqual({ similarTickets: [], assets: [], unmatchedIps: [], kbArticles: [] });
  });

  it('emits ticket.context_gathered with the context and a bounded copy of the ticket, valid for its schema', async () => {
    const stage = createContextStage({ db: t.services.db });
    const long = `${newTicket.description} ${'x'.repeat(20_000)}`;
    const event = receivedEvent('acme', 'NEW-1', {
      data: {
        action: 'ticket.created',
        ticket: { id: 'NEW-1', subject: newTicket.subject, description: long, priority: 'High', category: 'Network' },
        deliveryId: 'd-1',
      },
    }) as TicketEventOf<'ticket.received'>;
    const [followOn, ...rest] = await stage.handle(event, {
      tenant: 'acme',
      attempt: 1,
      signal: new AbortController().signal,
      log: pino({ level: 'silent' }),
    });
    expect(rest).toEqual([]);
    expect(followOn?.type).toBe('ticket.context_gathered');
    const data = eventDataSchemas['ticket.context_gathered'].parse(followOn!.data);
    expect(data.ticket).toMatchObject({ subject: newTicket.subject, priority: 'High', category: 'Network' });
    expect(data.ticket!.description.length).toBeLessThanOrEqual(8_000);
    expect(data.context.assets.length).toBe(5);
  });
});

describe('extractIpAddresses', () => {
  it('finds valid IPv4 and IPv6 addresses once each, in order, and ignores look-alikes', () => {
    const text =
      'Hosts 10.0.0.5, 10.0.0.5. and [2001:db8::1]:443, ::ffff:192.0.2.7 and 10.0.0.6:8080; fe80::1%eth0. ' +
      'Not: 10.0.0.256, 1.2.3, 010.1.1.1, 12:30:45, aa:bb:cc:dd:ee:ff, add::, v2.0.1.';
    expect(extractIpAddresses(text, 20)).toEqual([
      '10.0.0.5',
      '2001:db8::1',
      '::ffff:192.0.2.7',
      '10.0.0.6',
      'fe80::1',
    ]);
  });

  it('stops at the limit', () => {
    const text = Array.from({ length: 50 }, (_, i) => `10.0.0.${i}`).join(' ');
    expect(extractIpAddresses(text, 20)).toHaveLength(20);
  });
});
