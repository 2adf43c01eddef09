import { z } from 'zod';
import { StreamdeskError } from '../errors.js';
import type { Db } from '../projections/db.js';
import { adminSql } from './sql.js';

export const ticketStatuses = ['received', 'context_gathered', 'enhanced', 'written_back', 'failed'] as const;

const isoTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO 8601 time with a zone, e.g. 2026-01-31T09:00:00Z',
});

/** Filters and paging of a ticket listing; every field comes from a query string or CLI option. */
export const ticketListQuerySchema = z.object({
  status: z.enum(ticketStatuses).optional(),
  q: z
    .string()
    .trim()
    .max(200)
    .optional()
    .transform((text) => text || undefined),
  from: isoTime.optional(),
  to: isoTime.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});
export type TicketListQuery = z.input<typeof ticketListQuerySchema>;

export type TicketSummary = {
  ticketId: string;
  status: (typeof ticketStatuses)[number];
  subject: string | null;
  priority: string | null;
  category: string | null;
  suggestedPriority: string | null;
  receivedAt: string;
  contextGatheredAt: string | null;
  enhancedAt: string | null;
  writtenBackAt: string | null;
  failedAt: string | null;
  updatedAt: string;
};

export type TicketPage = { tickets: TicketSummary[]; nextCursor: string | null };

type Row = {
  ticket_id: string;
  status: TicketSummary['status'];
  subject: string | null;
  priority: string | null;
  category: string | null;
  suggested_priority: string | null;
  received_at: Date;
  context_gathered_at: Date | null;
  enhanced_at: Date | null;
  written_back_at: Date | null;
  failed_at: Date | null;
  updated_at: Date;
  cursor_at: string;
};

const cursorSchema = z.tuple([z.string().min(1), z.string().min(1)]);

/** The cursor names the last row of a page: its received time (Postgres text, microseconds kept) and id. */
function encodeCursor(row: Row): string {
  return Buffer.from(JSON.stringify([row.cursor_at, row.ticket_id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] | undefined {
  try {
    const parsed = cursorSchema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const iso = (time: Date | null) => (time ? time.toISOString() : null);

/** One page of a tenant's tickets, newest received first, filtered by status, time range and text. */
export async function listTickets(db: Db, tenant: string, input: TicketListQuery): Promise<TicketPage> {
  const query = ticketListQuerySchema.parse(input);
  const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
  if (query.cursor && !cursor) throw new StreamdeskError('BAD_REQUEST', 'cursor: not a cursor this listing returned');
  const { rows } = await db.query<Row>(adminSql.listTickets, [
    tenant,
    query.status ?? null,
    query.q ?? null,
    query.from ?? null,
    query.to ?? null,
    cursor?.[0] ?? null,
    cursor?.[1] ?? null,
    query.limit + 1,
  ]);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    tickets: page.map((row) => ({
      ticketId: row.ticket_id,
      status: row.status,
      subject: row.subject,
      priority: row.priority,
      category: row.category,
      suggestedPriority: row.suggested_priority,
      receivedAt: row.received_at.toISOString(),
      contextGatheredAt: iso(row.context_gathered_at),
      enhancedAt: iso(row.enhanced_at),
      writtenBackAt: iso(row.written_back_at),
      failedAt: iso(row.failed_at),
      updatedAt: row.updated_at.toISOString(),
    })),
    nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null,
  };
}
