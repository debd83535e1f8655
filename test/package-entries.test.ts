/**
 * The package's entry points (package.json "exports"): `loopix`, `loopix/client` and `loopix/sphinx` resolve
 * by name in a plain Node process, export what an application needs (the client's options need
 * TopologyIndex), hide the internals, and `loopix/sphinx` bundles for a browser with no Node built-in.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs an ES module snippet in a fresh Node process in the project folder (self-reference by package name). */
function node(code: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, LOOPIX_SPHINX: 'ts' },
  });
}

describe('package entry points', () => {
  it('resolve by name and export the client, what its options need, the API server and the packet format', () => {
    const r = node(`
      const all = await import('loopix');
      const client = await import('loopix/client');
      const sphinx = await import('loopix/sphinx');
      const pkg = (await import('loopix/package.json', { with: { type: 'json' } })).default;
      console.log(JSON.stringify({
        sameClass: all.LoopixClient === client.LoopixClient,
        client: ['LoopixClient', 'TopologyIndex', 'parseAddress', 'formatAddress', 'makeGeometry', 'LoopixError'].filter((n) => typeof client[n] !== 'function'),
        all: ['ClientApiServer', 'loadSphinx', 'runTestnet', 'verifyTopology', 'NetworkParamsSchema'].filter((n) => all[n] === undefined),
        sphinx: [sphinx.tsBackend.name, sphinx.DEFAULT_GEOMETRY.packetBytes > 0],
        testHelpers: Object.keys(all).filter((n) => /fixture|TestProvider|makeNetwork/i.test(n)),
        version: all.packageVersion() === pkg.version,
      }));
    `);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      sameClass: true,
      client: [],
      all: [],
      sphinx: ['ts', true],
      testHelpers: [],
      version: true,
    });
  });

  it('keep internal modules private', () => {
    const r = node(`await import('loopix/dist/src/node/mix.js')`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  it('loopix/sphinx bundles for a browser with no Node built-in reachable', async () => {
    const r = await build({
      entryPoints: [`${root}src/entries/sphinx.ts`],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
    });
    expect(r.errors).toEqual([]);
    const imports = Object.values(r.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
    expect(
      imports.filter((p) => p.startsWith('node:') || ['fs', 'path', 'crypto', 'module', 'url', 'buffer'].includes(p)),
    ).toEqual([]);
    expect(Object.keys(r.metafile.inputs).some((f) => f.includes('sphinx/native'))).toBe(false);
  });
});
