/** Redis answers field/value lists flat (`[f1, v1, f2, v2, …]`); this turns one into a record. */
export function toRecord(flat: readonly unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}
