/**
 * The browser bundles (`loopix/browser`, `loopix/client`, the chat page) built with esbuild as an application
 * would — no plugin, no polyfill — import no Node built-in (node:* or bare fs/path/crypto/...) and use no Node
 * global (Buffer, process, require, __dirname). The scan is the one `loopix chat` runs before serving; it is
 * shown to find the built-ins of the Node client module, so it can fail.
 */
import { spawnSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBrowserBundle } from '../src/cli/chat.js';
import { repoRoot } from '../src/paths.js';

const BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** Module names the bundle text still imports or requires (a complete ESM bundle has none at all). */
function importsIn(code: string): string[] {
  const found = new Set<string>();
  for (const re of [
    /\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
  ]) {
    for (const m of code.matchAll(re)) found.add(m[1]!);
  }
  return [...found];
}

/**
 * Node globals used as globals: `process.env`, `typeof Buffer`, `require("x")`, `__dirname` — not a method
 * of the same name (`process(t, n) {` in the hash code).
 */
function nodeGlobalsIn(code: string): string[] {
  const used = (g: string) => new RegExp(`(?<![.\\w$])${g}\\s*[.[]|typeof\\s+${g}(?![\\w$])`).test(code);
  return [
    ...['Buffer', 'process', '__dirname', '__filename', 'global'].filter(used),
    ...(/(?<![.\w$])require\s*\(\s*["'`]/.test(code) ? ['require'] : []),
  ];
}

const entries = {
  'loopix/browser': 'src/entries/browser.ts',
  'loopix/client': 'src/entries/client.ts',
  'chat page': 'examples/chat/chat.ts',
};

describe('browser bundle', () => {
  for (const [name, file] of Object.entries(entries)) {
    it(`${name} bundles with no Node built-in import and no Node global`, async () => {
      const b = await buildBrowserBundle(join(repoRoot(), file));
      expect(b.imports, 'externals esbuild left').toEqual([]);
      expect(importsIn(b.code).filter((m) => BUILTINS.has(m) || m.startsWith('node:'))).toEqual([]);
      expect(importsIn(b.code), 'a self-contained bundle imports nothing').toEqual([]);
      expect(nodeGlobalsIn(b.code)).toEqual([]);
    }, 60_000);
  }

  it('loopix/browser resolves by package name and shares LoopixClient with loopix/client', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const b = await import('loopix/browser'); const c = await import('loopix/client');
         console.log(JSON.stringify({ same: b.LoopixClient === c.LoopixClient, missing: ['createBrowserClient', 'fetchTopology', 'followTopology', 'IndexedDbStore', 'browserWebSocket', 'verifyTopology', 'TopologyIndex'].filter((n) => typeof b[n] !== 'function'), ts: b.tsBackend.name }));`,
      ],
      { cwd: repoRoot(), encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ same: true, missing: [], ts: 'ts' });
  });

  it('the scan finds the built-ins and globals of the Node client module (node:fs, node:path, Buffer, process)', async () => {
    const b = await buildBrowserBundle(join(repoRoot(), 'src/client/node.ts'));
    expect(b.imports).toEqual(expect.arrayContaining(['node:fs', 'node:path']));
    expect(importsIn(b.code).filter((m) => BUILTINS.has(m))).toEqual(expect.arrayContaining(['node:fs', 'node:path']));
    expect(nodeGlobalsIn(b.code)).toEqual(expect.arrayContaining(['Buffer', 'process']));
  }, 60_000);
});
