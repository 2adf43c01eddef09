import type { EventData, Ticket, TicketContext } from '../../events.js';
import type { Db } from '../../projections/db.js';
import { extractIpAddresses } from '../ip-addresses.js';
import { stageSql } from '../sql.js';
import type { Stage } from '../stage.js';
import { groupNames } from '../../streams/groups.js';

/** Bounds on what one ticket's context may hold, so events and prompts stay small whatever the ticket says. */
export const contextLimits = {
  similarTickets: 5,
  /** How many of the tenant's most recent tickets are searched for similar ones. */
  similarCandidates: 1_000,
  kbArticles: 3,
  ipAddresses: 20,
  assetsPerIp: 3,
  /**
   * Characters of subject + description searched for: enough to find the topic. Ranking cost grows
   * with the number of words searched for, on every candidate ticket.
   */
  queryChars: 400,
  subjectChars: 200,
  excerptChars: 300,
  /** Characters of the description copied into the event for the enhancer (which truncates further). */
  ticketCopyChars: 8_000,
} as const;

type SimilarTicketRow = { ticket_id: string; subject: string | null; status: string; rank: number };
type KbArticleRow = { article_id: string; title: string; excerpt: string; rank: number };
type AssetRow = {
  ip: string;
  hostname: string | null;
  site: string | null;
  kind: string | null;
  network: string | null;
};

const truncate = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const roundRank = (rank: number) => Math.round(rank * 10_000) / 10_000;

/** Similar past tickets, assets of the IP addresses mentioned and matching KB articles; every query is tenant-scoped. */
export async function gatherContext(
  db: Db,
  tenant: string,
  ticket: Pick<Ticket, 'id' | 'subject' | 'description'>,
): Promise<TicketContext> {
  const text = `${ticket.subject}\n${ticket.description}`;
  const query = text.slice(0, contextLimits.queryChars);
  const ips = extractIpAddresses(text, contextLimits.ipAddresses);
  const [similar, articles, assets] = await Promise.all([
    db.query<SimilarTicketRow>(stageSql.similarTickets, [
      tenant,
      query,
      ticket.id,
      contextLimits.similarTickets,
      contextLimits.similarCandidates,
    ]),
    db.query<KbArticleRow>(stageSql.kbArticles, [tenant, query, contextLimits.kbArticles, contextLimits.excerptChars]),
    ips.length > 0
      ? db.query<AssetRow>(stageSql.assetsByIp, [tenant, ips, contextLimits.assetsPerIp])
      : { rows: [] as AssetRow[] },
  ]);
  const matched = assets.rows.filter(
    (row): row is AssetRow & { hostname: string; network: string } => row.hostname !== null && row.network !== null,
  );
  return {
    similarTickets: similar.rows.map((row) => ({
      ticketId: row.ticket_id,
      subject: truncate(row.subject ?? '', contextLimits.subjectChars),
      status: row.status,
      rank: roundRank(row.rank),
    })),
    assets: matched.map((row) => ({
      ip: row.ip,
      hostname: row.hostname,
      site: row.site,
      kind: row.kind,
      network: row.network,
    })),
    unmatchedIps: assets.rows.filter((row) => row.hostname === null).map((row) => row.ip),
    kbArticles: articles.rows.map((row) => ({
      articleId: row.article_id,
      title: row.title,
      rank: roundRank(row.rank),
      excerpt: row.excerpt,
    })),
  };
}

/** ticket.received → ticket.context_gathered, carrying a bounded copy of the ticket for the enhancer. */
export function createContextStage(deps: { db: Db }): Stage<'ticket.received'> {
  return {
    name: groupNames.context,
    handles: ['ticket.received'],
    // Each event runs three short queries; more at once would only queue on the pool.
    concurrency: 16,
    async handle(event) {
      const { ticket } = event.data;
      const context = await gatherContext(deps.db, event.tenant, ticket);
      const data: EventData<'ticket.context_gathered'> = {
        context,
        ticket: {
          subject: ticket.subject,
          description: truncate(ticket.description, contextLimits.ticketCopyChars),
          ...(ticket.priority ? { priority: ticket.priority } : {}),
          ...(ticket.category ? { category: ticket.category } : {}),
        },
      };
      return [{ type: 'ticket.context_gathered', data }];
    },
  };
}
