import { z } from 'zod';
import { StreamdeskError } from '../errors.js';
import type { Db } from '../projections/db.js';
import { CsvError, parseCsv } from './csv.js';
import { checkNetwork } from './network.js';
import { adminSql } from './sql.js';

/** The two context sources an operator feeds: assets (matched by IP) and knowledge-base articles. */
export const contextKinds = ['assets', 'kb'] as const;
export type ContextKind = (typeof contextKinds)[number];
export const importFormats = ['csv', 'json'] as const;
export type ImportFormat = (typeof importFormats)[number];

const requiredText = (max: number) =>
  z
    .string({ error: (issue) => (issue.input === undefined || issue.input === null ? 'is required' : 'must be text') })
    .trim()
    .min(1, 'is required')
    .max(max, `is longer than ${max.toLocaleString('en')} characters`);
// A spreadsheet or a script may give numeric ids: they are kept as text.
const id = z.preprocess(
  (value) => (typeof value === 'number' && Number.isInteger(value) ? String(value) : value),
  requiredText(128),
);
const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max, `is longer than ${max} characters`)
    .nullish()
    .transform((text) => (text ? text : null));

export const assetSchema = z.object({
  id,
  hostname: requiredText(255),
  network: requiredText(100).transform((value, ctx) => {
    const checked = checkNetwork(value);
    if ('network' in checked) return checked.network;
    ctx.addIssue({ code: 'custom', message: checked.error });
    return z.NEVER;
  }),
  site: optionalText(200),
  kind: optionalText(100),
});
export type Asset = z.infer<typeof assetSchema>;

export const kbArticleSchema = z.object({
  id,
  title: requiredText(500),
  body: requiredText(100_000),
});
export type KbArticle = z.infer<typeof kbArticleSchema>;

const columns: Record<ContextKind, { all: readonly string[]; required: readonly string[] }> = {
  assets: { all: ['id', 'hostname', 'network', 'site', 'kind'], required: ['id', 'hostname', 'network'] },
  kb: { all: ['id', 'title', 'body'], required: ['id', 'title', 'body'] },
};

/** A row that was not imported: its position in the file (1 = first data row), the CSV line, and why. */
export type RowError = { row: number; line?: number; id?: string; messages: string[] };
export type ImportResult = { received: number; inserted: number; updated: number; errors: RowError[]; dryRun: boolean };

type FileRow = { row: number; line?: number; value: unknown };

function fileError(message: string): StreamdeskError {
  return new StreamdeskError('BAD_REQUEST', message);
}

/** Splits an import file into rows: CSV with a header line naming the columns, or a JSON array of objects. */
export function parseImportFile(kind: ContextKind, format: ImportFormat, content: string): FileRow[] {
  const { all, required } = columns[kind];
  if (format === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch (error) {
      throw fileError(`The file is not valid JSON: ${(error as Error).message}`);
    }
    const list = Array.isArray(value) ? value : undefined;
    if (!list) throw fileError(`The JSON file must be an array of objects with ${all.join(', ')}`);
    return list.map((item, index) => ({ row: index + 1, value: item }));
  }
  let records: ReturnType<typeof parseCsv>;
  try {
    records = parseCsv(content);
  } catch (error) {
    if (error instanceof CsvError) throw fileError(`The CSV file cannot be read: ${error.message}`);
    throw error;
  }
  const [header, ...data] = records;
  if (!header) throw fileError(`The CSV file is empty; its first line must name the columns: ${all.join(',')}`);
  const names = header.fields.map((name) => name.trim().toLowerCase());
  const unknown = names.filter((name) => !all.includes(name));
  const missing = required.filter((name) => !names.includes(name));
  if (unknown.length > 0 || missing.length > 0) {
    const problems = [
      missing.length > 0 ? `missing column(s) ${missing.join(', ')}` : '',
      unknown.length > 0 ? `unknown column(s) ${unknown.join(', ')}` : '',
    ].filter(Boolean);
    throw fileError(
      `The CSV header has ${problems.join(' and ')}; the columns are ${all.join(',')} (${required.join(', ')} required)`,
    );
  }
  return data.map((record, index) => {
    if (record.fields.length !== names.length) {
      return {
        row: index + 1,
        line: record.line,
        value: {
          __fieldCount: `has ${record.fields.length} fields, the header has ${names.length}`,
          id: record.fields[names.indexOf('id')] ?? '',
        },
      };
    }
    return {
      row: index + 1,
      line: record.line,
      value: Object.fromEntries(names.map((name, column) => [name, record.fields[column]])),
    };
  });
}

type Validated<K extends ContextKind> = K extends 'assets' ? Asset : KbArticle;

function validateRows<K extends ContextKind>(kind: K, rows: FileRow[]): { valid: Validated<K>[]; errors: RowError[] } {
  const schema = (kind === 'assets' ? assetSchema : kbArticleSchema) as unknown as z.ZodType<Validated<K>>;
  const valid: Validated<K>[] = [];
  const errors: RowError[] = [];
  const firstRowOf = new Map<string, number>();
  for (const { row, line, value } of rows) {
    const at = { row, ...(line !== undefined ? { line } : {}) };
    const rawId =
      typeof value === 'object' && value !== null && 'id' in value
        ? String((value as { id: unknown }).id).trim()
        : undefined;
    if (typeof value === 'object' && value !== null && '__fieldCount' in value) {
      errors.push({
        ...at,
        ...(rawId ? { id: rawId } : {}),
        messages: [`the row ${String((value as { __fieldCount: unknown }).__fieldCount)}`],
      });
      continue;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const messages = parsed.error.issues.map((issue) =>
        issue.path.length > 0
          ? `${issue.path.join('.')} ${issue.message}`
          : `the row ${issue.message === 'Invalid input: expected object, received array' ? 'must be an object' : issue.message}`,
      );
      errors.push({ ...at, ...(rawId ? { id: rawId } : {}), messages });
      continue;
    }
    const earlier = firstRowOf.get(parsed.data.id);
    if (earlier !== undefined) {
      errors.push({
        ...at,
        id: parsed.data.id,
        messages: [`id "${parsed.data.id}" already appears on row ${earlier}`],
      });
      continue;
    }
    firstRowOf.set(parsed.data.id, row);
    valid.push(parsed.data);
  }
  return { valid, errors };
}

async function upsert(
  db: Db,
  kind: ContextKind,
  tenant: string,
  rows: readonly (Asset | KbArticle)[],
): Promise<{ inserted: number; updated: number }> {
  if (rows.length === 0) return { inserted: 0, updated: 0 };
  const params =
    kind === 'assets'
      ? [
          tenant,
          ...(['id', 'hostname', 'network', 'site', 'kind'] as const).map((field) =>
            (rows as Asset[]).map((asset) => asset[field]),
          ),
        ]
      : [
          tenant,
          ...(['id', 'title', 'body'] as const).map((field) => (rows as KbArticle[]).map((article) => article[field])),
        ];
  const { rows: results } = await db.query<{ inserted: boolean }>(
    kind === 'assets' ? adminSql.upsertAssets : adminSql.upsertKbArticles,
    params,
  );
  const inserted = results.filter((result) => result.inserted).length;
  return { inserted, updated: results.length - inserted };
}

/**
 * Imports a file of assets or articles for one tenant: every valid row is inserted or replaced by id
 * (in one statement); each invalid row is reported with why and left out. A dry run only validates.
 */
export async function importContextData(
  db: Db,
  kind: ContextKind,
  tenant: string,
  file: { format: ImportFormat; content: string; dryRun?: boolean },
): Promise<ImportResult> {
  const rows = parseImportFile(kind, file.format, file.content);
  const { valid, errors } = validateRows(kind, rows);
  const dryRun = file.dryRun ?? false;
  const counts = dryRun ? { inserted: 0, updated: 0 } : await upsert(db, kind, tenant, valid);
  return { received: rows.length, ...counts, errors, dryRun };
}

/** Replaces (or creates) one asset or article; the value is validated as an import row would be. */
export async function saveContextItem(
  db: Db,
  kind: ContextKind,
  tenant: string,
  value: unknown,
): Promise<{ item: Asset | KbArticle; created: boolean }> {
  const { valid, errors } = validateRows(kind, [{ row: 1, value }]);
  const item = valid[0];
  if (!item) {
    const messages = errors.flatMap((error) => error.messages);
    throw new StreamdeskError(
      'BAD_REQUEST',
      messages.join('; '),
      messages.map((message) => ({ message })),
    );
  }
  const { inserted } = await upsert(db, kind, tenant, [item]);
  return { item, created: inserted === 1 };
}

export type ContextPage = {
  items: (Asset & { updatedAt: string })[] | (KbArticle & { updatedAt: string })[];
  total: number;
};

const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

export async function listContextData(
  db: Db,
  kind: ContextKind,
  tenant: string,
  query: { q?: string | undefined; limit: number; offset: number },
): Promise<ContextPage> {
  const params = [tenant, query.q ? likePattern(query.q) : null, query.limit, query.offset];
  if (kind === 'assets') {
    type Row = {
      asset_id: string;
      hostname: string;
      network: string;
      site: string | null;
      kind: string | null;
      updated_at: Date;
      total: number;
    };
    const { rows } = await db.query<Row>(adminSql.listAssets, params);
    return {
      items: rows.map((row) => ({
        id: row.asset_id,
        hostname: row.hostname,
        network: row.network,
        site: row.site,
        kind: row.kind,
        updatedAt: row.updated_at.toISOString(),
      })),
      total: rows[0]?.total ?? 0,
    };
  }
  type Row = { article_id: string; title: string; body: string; updated_at: Date; total: number };
  const { rows } = await db.query<Row>(adminSql.listKbArticles, params);
  return {
    items: rows.map((row) => ({
      id: row.article_id,
      title: row.title,
      body: row.body,
      updatedAt: row.updated_at.toISOString(),
    })),
    total: rows[0]?.total ?? 0,
  };
}

/** Deletes one asset or article; false when the tenant has none with that id. */
export async function deleteContextItem(db: Db, kind: ContextKind, tenant: string, itemId: string): Promise<boolean> {
  const { rowCount } = await db.query(kind === 'assets' ? adminSql.deleteAsset : adminSql.deleteKbArticle, [
    tenant,
    itemId,
  ]);
  return (rowCount ?? 0) > 0;
}
