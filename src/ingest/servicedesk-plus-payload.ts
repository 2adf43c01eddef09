import { z } from 'zod';
import { ticketSchema, type Ticket } from '../events.js';
import type { TicketAction } from './accept.js';

/**
 * ServiceDesk Plus's webhook bodies, as its templates produce them: form fields or JSON, flat
 * (`subject`, `priority`, …) or in the REST API's shape (`{"request": {"priority": {"name": …}}}`),
 * ids as strings or numbers, HTML descriptions, placeholders left unsubstituted when a field is
 * empty. Raw JSON templates do not always escape what a placeholder puts in a string, so a body
 * that is not valid JSON is read by the keys of the documented template (see readTemplateJson).
 */

/** Keys of the documented flat template, in its order; the free text comes last. */
const templateKeys = [
  'event',
  'id',
  'request_id',
  'workorderid',
  'status',
  'priority',
  'category',
  'requester',
  'requester_email',
  'site',
  'created_time',
  'last_updated_time',
  'subject',
  'description',
] as const;

const maxDescription = ticketSchema.shape.description.maxLength ?? 100_000;
const truncatedMark = '\n[truncated]';

export type SdpTicket = { action: TicketAction; ticket: Ticket; modifiedAt: string | undefined };

/**
 * Reads a JSON object whose string values were pasted in unescaped (quotes, newlines, backslashes):
 * each known key, at its first occurrence, starts a value that runs to the next known key, and the
 * last one to the closing brace. Returns undefined when the body does not look like the template.
 */
export function readTemplateJson(text: string): Record<string, string> | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return undefined;
  const keyPattern = new RegExp(`(?:^\\{|,)\\s*"(${templateKeys.join('|')})"\\s*:\\s*"`, 'g');
  const starts: { key: string; at: number; valueAt: number }[] = [];
  const found = new Set<string>();
  for (const match of trimmed.matchAll(keyPattern)) {
    const key = match[1] ?? '';
    if (found.has(key)) continue;
    found.add(key);
    starts.push({ key, at: match.index, valueAt: match.index + match[0].length });
  }
  if (!found.has('subject') || !['id', 'request_id', 'workorderid'].some((key) => found.has(key))) return undefined;
  const values: Record<string, string> = {};
  starts.forEach((start, index) => {
    const end = starts[index + 1]?.at ?? trimmed.length - 1;
    values[start.key] = trimmed.slice(start.valueAt, end).replace(/"\s*$/, '');
  });
  return values;
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

/** Text of an HTML description: block ends and <br> become line breaks, tags go, entities are decoded. */
export function htmlToText(html: string): string {
  if (!/<\/?[a-zA-Z][^>]*>|&[#a-zA-Z0-9]+;/.test(html)) return html;
  return html
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|tr|h[1-6]|blockquote|pre|table)\s*>/gi, '\n')
    .replace(/<li\b[^>]*>/gi, '- ')
    .replace(/<\/?[a-zA-Z][^>]*>/g, '')
    .replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]+|#39);/g, (whole, name: string) => {
      if (name.startsWith('#x')) return safeCodePoint(Number.parseInt(name.slice(2), 16)) ?? whole;
      if (name.startsWith('#') && name !== '#39') return safeCodePoint(Number(name.slice(1))) ?? whole;
      return entities[name] ?? whole;
    })
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function safeCodePoint(code: number): string | undefined {
  return Number.isInteger(code) && code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)
    ? String.fromCodePoint(code)
    : undefined;
}

/** A placeholder the helpdesk left as written (`$site`, `${site}`) means the field was empty. */
const unsubstituted = /^\$\{?[A-Za-z_][A-Za-z0-9_.]*\}?$/;

function text(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' || unsubstituted.test(trimmed) ? undefined : trimmed;
}

/** A field that is a name, or an object with a name (`{"name": "High", "id": "3"}`). */
function named(value: unknown): string | undefined {
  if (value && typeof value === 'object' && !Array.isArray(value)) return text((value as Record<string, unknown>).name);
  return text(value);
}

/** A time as epoch milliseconds (string or number), `{"value": …}`, or ISO 8601. */
function time(value: unknown): { raw: string; iso: string | undefined } | undefined {
  const raw =
    value && typeof value === 'object' && !Array.isArray(value)
      ? text((value as Record<string, unknown>).value)
      : text(value);
  if (raw === undefined) return undefined;
  const date = /^\d{10,16}$/.test(raw) ? new Date(Number(raw)) : new Date(raw);
  return { raw: raw.slice(0, 64), iso: Number.isNaN(date.getTime()) ? undefined : date.toISOString() };
}

const cut = (value: string | undefined, max: number) =>
  value === undefined ? undefined : value.length > max ? value.slice(0, max) : value;

const actions: Record<string, TicketAction> = {
  created: 'ticket.created',
  create: 'ticket.created',
  new: 'ticket.created',
  added: 'ticket.created',
  'ticket.created': 'ticket.created',
  updated: 'ticket.updated',
  update: 'ticket.updated',
  edited: 'ticket.updated',
  edit: 'ticket.updated',
  modified: 'ticket.updated',
  'ticket.updated': 'ticket.updated',
};

export type MappingProblem = { path: string; message: string };

/** Maps a parsed ServiceDesk Plus body to the ticket event; problems name the ServiceDesk Plus fields. */
export function mapServiceDeskPlus(
  body: Record<string, unknown>,
  eventFromUrl: string | undefined,
): SdpTicket | MappingProblem[] {
  const request =
    body.request && typeof body.request === 'object' && !Array.isArray(body.request)
      ? (body.request as Record<string, unknown>)
      : body;
  const field = (name: string) => request[name] ?? body[name];
  const problems: MappingProblem[] = [];

  // The URL's ?event= is the webhook's own setting, so it wins over the body's field.
  const eventName = (eventFromUrl ?? text(body.event) ?? text(body.operation) ?? 'created').toLowerCase();
  const action = actions[eventName];
  if (!action)
    problems.push({ path: 'event', message: `must be "created" or "updated" (got "${eventName.slice(0, 40)}")` });

  const id = text(field('id')) ?? text(field('request_id')) ?? text(field('workorderid'));
  const requester = field('requester');
  const requesterObject =
    requester && typeof requester === 'object' && !Array.isArray(requester)
      ? (requester as Record<string, unknown>)
      : undefined;
  const email =
    text(requesterObject?.email_id) ??
    text(requesterObject?.email) ??
    text(field('requester_email')) ??
    text(field('requester_email_id'));
  const requesterName = cut(named(requester), 256);
  const validEmail =
    email !== undefined && email.length <= 320 && z.email().safeParse(email).success ? email : undefined;
  const descriptionText = htmlToText(text(field('description')) ?? '');
  const description =
    descriptionText.length > maxDescription
      ? `${descriptionText.slice(0, maxDescription - truncatedMark.length)}${truncatedMark}`
      : descriptionText;
  const created = time(field('created_time'));
  const modified = time(field('last_updated_time'));

  const candidate = {
    id: id ?? '',
    subject: cut(htmlToText(text(field('subject')) ?? ''), 1_000) ?? '',
    description,
    priority: cut(named(field('priority')), 64),
    category: cut(named(field('category')), 256),
    site: cut(named(field('site')), 256),
    requester:
      requesterName || validEmail
        ? { ...(requesterName ? { name: requesterName } : {}), ...(validEmail ? { email: validEmail } : {}) }
        : undefined,
    createdAt: created?.iso,
  };
  const parsed = ticketSchema.safeParse(
    Object.fromEntries(Object.entries(candidate).filter(([, value]) => value !== undefined)),
  );
  if (!parsed.success)
    problems.push(...parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })));
  if (problems.length > 0 || !parsed.success || !action) return problems;
  return { action, ticket: parsed.data, modifiedAt: modified?.raw };
}
