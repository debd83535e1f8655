/**
 * The one JSON-file reader (src/util/json-file.ts) and the loaders built on it: a missing file and a file that
 * is not JSON fail with a stable code and name the file; a loader with a code of its own keeps it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readKeyPairFile } from '../src/client/node.js';
import { loadIdentityKeyFile } from '../src/directory/identity-file.js';
import { isLoopixError, type LoopixError } from '../src/errors.js';
import { loadCorpus } from '../src/fuzz/corpus.js';
import { loadLinkMatrix } from '../src/testnet/netns.js';
import { readJsonFile } from '../src/util/json-file.js';

const dir = mkdtempSync(join(tmpdir(), 'loopix-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const notJson = join(dir, 'broken.json');
writeFileSync(notJson, '{"publicKey": ');
const missing = join(dir, 'missing.json');
const commented = join(dir, 'commented.json');
writeFileSync(commented, '{\n  // why\n  "a": 1\n}\n');

function thrown(f: () => unknown): LoopixError {
  try {
    f();
  } catch (err) {
    if (isLoopixError(err)) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('readJsonFile', () => {
  it('names the file and says whether it could not be read or is not JSON', () => {
    const unreadable = thrown(() => readJsonFile(missing, { label: 'config', area: 'CONFIG' }));
    expect(unreadable.code).toBe('ERR_LOOPIX_CONFIG_UNREADABLE');
    expect(unreadable.field).toBe(missing);
    expect(unreadable.message).toContain(`config ${missing}`);
    const broken = thrown(() => readJsonFile(notJson, { label: 'config', area: 'CONFIG' }));
    expect(broken.code).toBe('ERR_LOOPIX_CONFIG_NOT_JSON');
  });

  it('reads comments only where asked to', () => {
    expect(readJsonFile(commented, { label: 'config', area: 'CONFIG', comments: true })).toEqual({ a: 1 });
    expect(thrown(() => readJsonFile(commented, { label: 'config', area: 'CONFIG' })).code).toBe(
      'ERR_LOOPIX_CONFIG_NOT_JSON',
    );
  });
});

describe('loaders keep their own codes for an unreadable or broken file', () => {
  it.each([
    ['client key file', () => readKeyPairFile(notJson), 'ERR_LOOPIX_CLIENT_KEYFILE', notJson],
    ['identity key file', () => loadIdentityKeyFile(missing), 'ERR_LOOPIX_DIRECTORY_IDENTITY_FILE', missing],
    ['netns link matrix', () => loadLinkMatrix(notJson), 'ERR_LOOPIX_NETNS_MATRIX', '--netns'],
  ])('%s', (_what, load, code, field) => {
    const err = thrown(load);
    expect(err.code).toBe(code);
    expect(err.field).toBe(field);
  });

  it('fuzz corpus', () => {
    const corpus = join(dir, 'corpus', 'some-target');
    mkdirSync(corpus, { recursive: true });
    writeFileSync(join(corpus, 'case.json'), 'not json');
    expect(thrown(() => loadCorpus(join(dir, 'corpus'))).code).toBe('ERR_LOOPIX_FUZZ_CORPUS_NOT_JSON');
  });
});
