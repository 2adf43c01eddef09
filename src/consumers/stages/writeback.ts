import { StreamdeskError } from '../../errors.js';
import type { EventData, TicketEventOf } from '../../events.js';
import type { Db } from '../../projections/db.js';
import { Attr } from '../../telemetry/attributes.js';
import { withSpan, writebackSpanName } from '../../telemetry/tracing.js';
import type { Tenant } from '../../tenants/registry.js';
import { stageSql } from '../sql.js';
import type { FollowOn } from '../../streams/processor.js';
import { coalesced, type Stage, type StageContext } from '../stage.js';
import { noteHtml, noteText } from '../writeback/note.js';
import { addServiceDeskPlusNote, type WrittenNote } from '../writeback/servicedesk-plus.js';
import type { TargetPolicy } from '../writeback/target-policy.js';
import { postEnhancementWebhook } from '../writeback/webhook.js';
import { ZohoTokenCache, type SharedTokenStore } from '../writeback/zoho-oauth.js';
import { groupNames } from '../../streams/groups.js';

export type WritebackStageDeps = {
  db: Db;
  registry: { get(id: string): Promise<Tenant | undefined> };
  /** Per helpdesk call. */
  timeoutMs?: number;
  /** Which addresses the helpdesk may be at (WRITEBACK_ALLOW_PRIVATE). */
  targetPolicy: TargetPolicy;
  /** Where workers share ServiceDesk Plus Cloud access tokens; without it each process buys its own. */
  sharedTokens?: SharedTokenStore;
};

type WrittenBack = EventData<'ticket.written_back'>;
type WritebackRow = { target: WrittenBack['target']; note_id: string | null; status: number | null };

export const defaultWritebackTimeoutMs = 10_000;

const fromRow = (row: WritebackRow): WrittenBack => ({ target: row.target, noteId: row.note_id, status: row.status });

type WritebackKey = [tenant: string, ticket: string, enhancementId: string];
type Recording = { key: WritebackKey; target: WrittenBack['target']; noteId: string | null; status: number | null };
type RecordedRow = WritebackRow & { tenant_id: string; ticket_id: string; enhancement_id: string };

const keyText = (key: readonly string[]) => key.join('\u0000');

/**
 * Records a batch of write-backs in one statement; each gets the row that is recorded for it (its
 * own, or that of a concurrent delivery that recorded first), or undefined if none can be read.
 */
async function recordWritebacks(db: Db, recordings: readonly Recording[]): Promise<(WritebackRow | undefined)[]> {
  const { rows } = await db.query<RecordedRow>(stageSql.recordWriteback, [
    recordings.map(({ key }) => key[0]),
    recordings.map(({ key }) => key[1]),
    recordings.map(({ key }) => key[2]),
    recordings.map(({ target }) => target),
    recordings.map(({ noteId }) => noteId),
    recordings.map(({ status }) => status),
  ]);
  const inserted = new Map(
    rows.map((row) => [keyText([row.tenant_id, row.ticket_id, row.enhancement_id]), row] as const),
  );
  return Promise.all(
    recordings.map(
      async ({ key }) =>
        inserted.get(keyText(key)) ?? (await db.query<WritebackRow>(stageSql.findWriteback, key)).rows[0],
    ),
  );
}

type NoteOptions = { timeoutMs: number; signal: AbortSignal; targetPolicy: TargetPolicy; zohoTokens: ZohoTokenCache };

async function writeNote(
  tenant: Tenant,
  event: TicketEventOf<'ticket.enhanced'>,
  options: NoteOptions,
): Promise<WrittenNote | undefined> {
  const { enhancement, model } = event.data;
  const target = tenant.writeback;
  switch (target.type) {
    case 'none':
      return undefined;
    case 'servicedesk-plus':
      return addServiceDeskPlusNote(target, event.ticket, noteHtml(enhancement, model), {
        ...options,
        tenant: tenant.id,
      });
    case 'webhook':
      return postEnhancementWebhook(
        target,
        {
          tenant: event.tenant,
          ticketId: event.ticket,
          enhancementId: event.id,
          enhancement,
          model,
          note: noteText(enhancement, model),
        },
        options,
      );
  }
}

/**
 * ticket.enhanced → ticket.written_back: the enhancement goes to the tenant's helpdesk as an
 * internal note. A `writebacks` row per enhancement, written after the helpdesk accepted it,
 * makes redeliveries and replays post nothing and re-emit the recorded result.
 */
export function createWritebackStage(deps: WritebackStageDeps): Stage<'ticket.enhanced'> {
  const timeoutMs = deps.timeoutMs ?? defaultWritebackTimeoutMs;
  const inflight = new Map<string, Promise<FollowOn[]>>();
  // ServiceDesk Plus Cloud access tokens, per tenant, for as long as this process runs the stage.
  const zohoTokens = new ZohoTokenCache({ shared: deps.sharedTokens });
  // The write-backs a batch's handlers record at once share one statement and one commit.
  const record = coalesced((_key: string, recordings: Recording[]) => recordWritebacks(deps.db, recordings));

  async function writeBack(event: TicketEventOf<'ticket.enhanced'>, ctx: StageContext): Promise<FollowOn[]> {
    const key: WritebackKey = [event.tenant, event.ticket, event.id];
    const tenant = await deps.registry.get(event.tenant);
    // Before calling a helpdesk, look for a recorded write-back; with nothing to call (target none),
    // the insert below decides alone and the read is saved.
    if (tenant?.writeback.type !== 'none') {
      const recorded = await deps.db.query<WritebackRow>(stageSql.findWriteback, key);
      if (recorded.rows[0]) {
        ctx.log.info({ noteId: recorded.rows[0].note_id }, 'already written back; re-emitting the recorded result');
        return [{ type: 'ticket.written_back', data: fromRow(recorded.rows[0]) }];
      }
    }
    if (!tenant)
      throw new StreamdeskError(
        'UNKNOWN_TENANT',
        `Tenant "${event.tenant}" no longer exists; nothing to write back to`,
      );
    const target = tenant.writeback.type;
    const spanAttributes = {
      [Attr.writebackTarget]: target,
      [Attr.tenantId]: event.tenant,
      [Attr.ticketId]: event.ticket,
    };
    const written = await withSpan(writebackSpanName(target), spanAttributes, async (span) => {
      const note = await writeNote(tenant, event, {
        timeoutMs,
        signal: ctx.signal,
        targetPolicy: deps.targetPolicy,
        zohoTokens,
      });
      if (note?.status) span.setAttribute(Attr.httpResponseStatusCode, note.status);
      return note;
    });
    // A concurrent delivery of the same event that recorded first wins; emit what it recorded.
    const row = await record('', {
      key,
      target: tenant.writeback.type,
      noteId: written?.noteId ?? null,
      status: written?.status ?? null,
    });
    if (!row) throw new StreamdeskError('INTERNAL', 'The write-back row vanished between insert and read');
    return [{ type: 'ticket.written_back', data: fromRow(row) }];
  }

  return {
    name: groupNames.writeback,
    handles: ['ticket.enhanced'],
    concurrency: 16,
    handle(event, ctx) {
      // Two deliveries of one event at once in this process (a replay beside live work) share one call.
      const key = `${event.tenant}\u0000${event.ticket}\u0000${event.id}`;
      const running = inflight.get(key);
      if (running) return running;
      const work = writeBack(event, ctx).finally(() => inflight.delete(key));
      inflight.set(key, work);
      return work;
    },
  };
}
