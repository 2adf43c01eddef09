import type { EventData, Ticket, TicketContext } from '../../events.js';
import type { Db } from '../../projections/db.js';
import { extractIpAddresses } from '../ip-addresses.js';
import { stageSql } from '../sql.js';
import { coalesced, type Stage } from '../stage.js';
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
  /** Tickets whose context one set of statements gathers. */
  ticketsPerStatement: 8,
} as const;

type Positioned<T> = T & { position: number };
type SimilarTicketRow = Positioned<{ ticket_id: string; subject: string | null; status: string; rank: number }>;
type KbArticleRow = Positioned<{ article_id: string; title: string; excerpt: string; rank: number }>;
type AssetRow = Positioned<{
  ip: string;
  hostname: string | null;
  site: string | null;
  kind: string | null;
  network: string | null;
}>;

type ContextTicket = Pick<Ticket, 'id' | 'subject' | 'description'>;

const truncate = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const roundRank = (rank: number) => Math.round(rank * 10_000) / 10_000;

/** Rows of a batched statement, per input position (1-based in SQL, 0-based here). */
function byPosition<R extends { position: number }>(rows: readonly R[], count: number): R[][] {
  const result = Array.from({ length: count }, (): R[] => []);
  for (const row of rows) result[row.position - 1]?.push(row);
  return result;
}

function toContext(similar: SimilarTicketRow[], articles: KbArticleRow[], assets: AssetRow[]): TicketContext {
  const matched = assets.filter(
    (row): row is AssetRow & { hostname: string; network: string } => row.hostname !== null && row.network !== null,
  );
  return {
    similarTickets: similar.map((row) => ({
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
    unmatchedIps: assets.filter((row) => row.hostname === null).map((row) => row.ip),
    kbArticles: articles.map((row) => ({
      articleId: row.article_id,
      title: row.title,
      rank: roundRank(row.rank),
      excerpt: row.excerpt,
    })),
  };
}

/**
 * Similar past tickets, assets of the IP addresses mentioned and matching KB articles for each of a
 * tenant's tickets: three statements for the whole batch, whatever its size; every query is tenant-scoped.
 */
export async function gatherContexts(
  db: Db,
  tenant: string,
  tickets: readonly ContextTicket[],
): Promise<TicketContext[]> {
  const texts = tickets.map((ticket) => `${ticket.subject}\n${ticket.description}`);
  const queries = texts.map((text) => text.slice(0, contextLimits.queryChars));
  const ips = texts.map((text) => extractIpAddresses(text, contextLimits.ipAddresses));
  const ipPositions = ips.flatMap((list, index) => list.map(() => index + 1));
  const [similar, articles, assets] = await Promise.all([
    db.query<SimilarTicketRow>(stageSql.similarTickets, [
      tenant,
      queries,
      tickets.map((ticket) => ticket.id),
      contextLimits.similarTickets,
      contextLimits.similarCandidates,
    ]),
    db.query<KbArticleRow>(stageSql.kbArticles, [
      tenant,
      queries,
      contextLimits.kbArticles,
      contextLimits.excerptChars,
    ]),
    ipPositions.length > 0
      ? db.query<AssetRow>(stageSql.assetsByIp, [tenant, ipPositions, ips.flat(), contextLimits.assetsPerIp])
      : { rows: [] as AssetRow[] },
  ]);
  const count = tickets.length;
  const [similarOf, articlesOf, assetsOf] = [
    byPosition(similar.rows, count),
    byPosition(articles.rows, count),
    byPosition(assets.rows, count),
  ];
  return tickets.map((_, index) => toContext(similarOf[index]!, articlesOf[index]!, assetsOf[index]!));
}

/** The context of one ticket (see gatherContexts). */
export async function gatherContext(db: Db, tenant: string, ticket: ContextTicket): Promise<TicketContext> {
  return (await gatherContexts(db, tenant, [ticket]))[0]!;
}

/** ticket.received → ticket.context_gathered, carrying a bounded copy of the ticket for the enhancer. */
export function createContextStage(deps: { db: Db }): Stage<'ticket.received'> {
  // In groups: a batch's statements then run on several connections, so on several Postgres cores.
  const gather = coalesced(
    (tenant: string, tickets: ContextTicket[]) => gatherContexts(deps.db, tenant, tickets),
    contextLimits.ticketsPerStatement,
  );
  return {
    name: groupNames.context,
    handles: ['ticket.received'],
    // A batch's handlers share three statements per group of ticketsPerStatement (see gatherContexts).
    concurrency: 32,
    async handle(event) {
      const { ticket } = event.data;
      const context = await gather(event.tenant, ticket);
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
