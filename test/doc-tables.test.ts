/**
 * docs/ must not drift from the code: every drop-reason table in docs/ (a Markdown table whose first header
 * cell is "reason") names each reason of DROP_REASONS exactly once and nothing else, and a row that names a
 * single reason in a table with a "description" column carries that reason's description verbatim. Also: the
 * docs stand on their own (no references to files or trackers outside the repository).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DROP_REASONS, DROP_REASON_NAMES } from '../src/node/drop-reasons.js';

const DOCS = join(import.meta.dirname, '..', 'docs');

interface Table {
  readonly file: string;
  readonly line: number;
  readonly header: string[];
  readonly rows: string[][];
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((c) => c.trim());
}

/** Every Markdown table in `text` (header row, separator row, body rows). */
function tables(file: string, text: string): Table[] {
  const lines = text.split('\n');
  const out: Table[] = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.trimStart().startsWith('|') || !/^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1]!)) continue;
    const rows: string[][] = [];
    let j = i + 2;
    for (; j < lines.length && lines[j]!.trimStart().startsWith('|'); j++) rows.push(cells(lines[j]!));
    out.push({ file, line: i + 1, header: cells(lines[i]!).map((c) => c.toLowerCase()), rows });
    i = j;
  }
  return out;
}

function dropTables(): Table[] {
  const found: Table[] = [];
  for (const f of readdirSync(DOCS).filter((n) => n.endsWith('.md'))) {
    found.push(...tables(f, readFileSync(join(DOCS, f), 'utf8')).filter((t) => t.header[0] === 'reason'));
  }
  return found;
}

/** The backticked names in a table cell: `a`, `b` → [a, b]. */
function names(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** Differences between one drop table and DROP_REASONS, as readable lines (empty when they agree). */
function checkDropTable(t: Table): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const descCol = t.header.indexOf('description');
  for (const row of t.rows) {
    const listed = names(row[0] ?? '');
    for (const n of listed) seen.set(n, (seen.get(n) ?? 0) + 1);
    if (descCol > 0 && listed.length === 1 && listed[0]! in DROP_REASONS) {
      const want = DROP_REASONS[listed[0] as keyof typeof DROP_REASONS];
      if (row[descCol] !== want) problems.push(`${listed[0]}: description "${row[descCol]}" is not "${want}"`);
    }
  }
  for (const r of DROP_REASON_NAMES) if (!seen.has(r)) problems.push(`missing reason ${r}`);
  for (const [n, k] of seen) {
    if (!(n in DROP_REASONS)) problems.push(`unknown reason ${n}`);
    else if (k > 1) problems.push(`reason ${n} listed ${k} times`);
  }
  return problems.map((p) => `${t.file}:${t.line}: ${p}`);
}

describe('docs/ tables', () => {
  it('finds the drop-reason tables of pipeline.md and operations.md', () => {
    const files = new Set(dropTables().map((t) => t.file));
    expect(files).toContain('pipeline.md');
    expect(files).toContain('operations.md');
  });

  it('every drop-reason table in docs/ lists exactly the reasons of DROP_REASONS', () => {
    expect(dropTables().flatMap(checkDropTable)).toEqual([]);
  });

  it('the check catches a missing, an unknown, a repeated reason and a stale description', () => {
    const rows = DROP_REASON_NAMES.filter((r) => r !== 'key_expired').map((r) => [`\`${r}\``, DROP_REASONS[r]]);
    rows.push(['`loops_emitted`', 'x'], ['`aqm`', 'again']);
    rows[0]![1] = 'something else';
    const problems = checkDropTable({ file: 'x.md', line: 1, header: ['reason', 'description'], rows });
    expect(problems.some((p) => p.includes('missing reason key_expired'))).toBe(true);
    expect(problems.some((p) => p.includes('unknown reason loops_emitted'))).toBe(true);
    expect(problems.some((p) => p.includes('reason aqm listed 2 times'))).toBe(true);
    expect(problems.some((p) => p.includes(`${DROP_REASON_NAMES[0]}: description`))).toBe(true);
  });

  it('docs/ stand on their own: no ARCHITECTURE.md and no issue numbers', () => {
    const offending: string[] = [];
    for (const f of readdirSync(DOCS).filter((n) => n.endsWith('.md'))) {
      readFileSync(join(DOCS, f), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/ARCHITECTURE\.md|\bissues? #?\d+/i.test(line)) offending.push(`${f}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offending).toEqual([]);
  });
});
