/**
 * The canonical JSON encoding every signature of the topology and the directory is made over: object keys
 * sorted, no whitespace, so the same document always signs to the same bytes whatever order a file lists its
 * fields in. Runtime-neutral (the browser client verifies documents too).
 */
/** Canonical JSON: sorted keys, no whitespace; arrays keep their order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
