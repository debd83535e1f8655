/**
 * Key hygiene as an attacker on the same host would probe it: a key file others can read is refused at load
 * (naming the file and its mode), both by the parser and by a real `loopix mix` process; `loopix keygen` never
 * writes through a planted symbolic link, neither at the key store nor at its temporary file.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runKeygen } from '../src/cli/keygen.js';
import { loadNodeKeyFile, pruneKeyFile } from '../src/node/keys.js';
import { native } from './helpers/backends.js';
import { makeNetwork, type TestNetwork } from './node-fixture.js';
import { expectLoopixError } from './helpers/errors.js';

const BIN = fileURLToPath(new URL('../bin/loopix.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'loopix-keys-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('key files readable by others', () => {
  for (const mode of [0o644, 0o640, 0o604]) {
    it(`refuses a key file of mode ${mode.toString(8)} with ERR_LOOPIX_KEYFILE_MODE naming file and mode`, () => {
      const file = join(dir, 'node.key.json');
      writeFileSync(file, JSON.stringify({ type: 'x25519', publicKey: '11'.repeat(32), privateKey: '22'.repeat(32) }), {
        mode: 0o600,
      });
      chmodSync(file, mode);
      const caught = expectLoopixError(() => loadNodeKeyFile(file), 'ERR_LOOPIX_KEYFILE_MODE');
      expect(caught.message).toContain(file);
      expect(caught.message).toContain(`0${mode.toString(8)}`);
      chmodSync(file, 0o600);
      expect(loadNodeKeyFile(file).kind).toBe('single');
    });
  }
});

describe('loopix mix with a world-readable key file', () => {
  let net: TestNetwork;
  beforeAll(async () => {
    net = await makeNetwork(native, { layers: 1, perLayer: 1 });
  });
  afterAll(() => net?.cleanup());

  it('refuses to start, exit code 2, naming the key file and its mode', () => {
    const node = net.nodes['mix-1.0']!;
    chmodSync(node.keyFile, 0o644);
    const r = run('mix', '--config', net.writeConfig('mix-1.0'));
    chmodSync(node.keyFile, 0o600);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(node.keyFile);
    expect(r.stderr).toContain('0644');
  });
});

/** `loopix keygen` in-process (stdout silenced): 0 on success, the error's code otherwise. */
function keygen(o: Parameters<typeof runKeygen>[0]): string | 0 {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = () => true;
  try {
    runKeygen(o);
    return 0;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    process.stdout.write = write;
  }
}

describe('loopix keygen and symbolic links', () => {
  it('does not write through a symlink planted at the key store’s temporary file (--append)', () => {
    const store = join(dir, 'store.json');
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    expect(keygen({ epochs: { first: 1, last: 2 }, out: store })).toBe(0);
    symlinkSync(victim, `${store}.tmp`);
    expect(keygen({ epochs: { first: 1, last: 3 }, append: true, out: store })).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    const keys = loadNodeKeyFile(store);
    expect(keys.kind === 'epochs' && keys.keys.map((k) => k.epoch)).toEqual([1, 2, 3]);
  });

  it('refuses a key store or output file that is a symlink, leaving the target untouched', () => {
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    const link = join(dir, 'link.json');
    symlinkSync(victim, link);
    const epochs = { first: 1, last: 2 };
    for (const o of [{ out: link }, { epochs, out: link }, { epochs, append: true, out: link }]) {
      expect(keygen(o), JSON.stringify(o)).toBe('ERR_LOOPIX_KEYGEN_SYMLINK');
      expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    }
    // A dangling link (the target does not exist yet) is not created through either.
    const dangling = join(dir, 'dangling.json');
    symlinkSync(join(dir, 'created-through-link.json'), dangling);
    expect(keygen({ out: dangling })).toBe('ERR_LOOPIX_KEYGEN_SYMLINK');
    expect(() => readFileSync(join(dir, 'created-through-link.json'))).toThrow();
  });
});

describe('retired keys on disk', () => {
  it('removes the keys of epochs before the live ones from the key store, atomically and mode 0600', () => {
    const store = join(dir, 'store.json');
    expect(keygen({ epochs: { first: 1, last: 5 }, out: store })).toBe(0);
    const before = loadNodeKeyFile(store);
    const retiredHex = before.kind === 'epochs' ? Buffer.from(before.keys[0]!.privateKey).toString('hex') : '';
    symlinkSync(join(dir, 'elsewhere.json'), `${store}.tmp`); // a planted link is not followed
    expect(pruneKeyFile(store, 3)).toEqual([1, 2]);
    const after = loadNodeKeyFile(store);
    expect(after.kind === 'epochs' && after.keys.map((k) => k.epoch)).toEqual([3, 4, 5]);
    expect(readFileSync(store, 'utf8')).not.toContain(retiredHex);
    expect(statSync(store).mode & 0o777).toBe(0o600);
    expect(() => statSync(join(dir, 'elsewhere.json'))).toThrow();
    expect(pruneKeyFile(store, 3)).toEqual([]);
  });
});
