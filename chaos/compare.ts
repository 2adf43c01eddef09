/**
 * Row against rebuild, column by column. Values come from pg as the driver parses them (Date,
 * parsed jsonb, arrays); they are normalised so that only a difference in content counts.
 */
export type Row = Record<string, unknown>;

export type RowDifference = { key: string; columns: string[] };

export type Comparison = {
  compared: number;
  /** Keys whose live row differs from the rebuilt one, or that exist on one side only. */
  differing: RowDifference[];
  /** How many rows differ in each column (`<missing row>` for rows on one side only). */
  byColumn: Record<string, number>;
};

export const missingRow = '<missing row>';

/** A canonical text for a value: object keys sorted, dates as ISO text, unordered columns sorted. */
export function canonical(value: unknown, unordered = false): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) {
    const items = value.map((item) => canonical(item));
    if (unordered) items.sort();
    return `[${items.join(',')}]`;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Compares live rows with rebuilt rows matched by `keyOf`. Columns named in `unordered` are sets
 * kept as arrays (the order events were applied in is not part of the state); columns in `ignore`
 * are left out.
 */
export function compareRows(
  live: readonly Row[],
  rebuilt: readonly Row[],
  keyOf: (row: Row) => string,
  options: { unordered?: readonly string[]; ignore?: readonly string[] } = {},
): Comparison {
  const unordered = new Set(options.unordered ?? []);
  const ignore = new Set(options.ignore ?? []);
  const rebuiltByKey = new Map(rebuilt.map((row) => [keyOf(row), row]));
  const differing: RowDifference[] = [];
  const byColumn: Record<string, number> = {};
  const note = (key: string, columns: string[]) => {
    differing.push({ key, columns });
    for (const column of columns) byColumn[column] = (byColumn[column] ?? 0) + 1;
  };
  const seen = new Set<string>();
  for (const row of live) {
    const key = keyOf(row);
    seen.add(key);
    const other = rebuiltByKey.get(key);
    if (!other) {
      note(key, [missingRow]);
      continue;
    }
    const columns = [...new Set([...Object.keys(row), ...Object.keys(other)])]
      .filter((column) => !ignore.has(column))
      .filter(
        (column) => canonical(row[column], unordered.has(column)) !== canonical(other[column], unordered.has(column)),
      )
      .sort();
    if (columns.length > 0) note(key, columns);
  }
  for (const row of rebuilt) if (!seen.has(keyOf(row))) note(keyOf(row), [missingRow]);
  return { compared: seen.size, differing, byColumn };
}
