/**
 * `loopix client send` / `loopix client recv` (in-process, against the test provider peer): config files
 * with relative key and topology paths, a message from one client to another, JSON lines on stdout.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { clientFromConfigFile } from '../src/client/node.js';
import { registerClientCommands, runClientRecv, runClientSend } from '../src/cli/client-commands.js';
import { clientBackend, FAST_PARAMS, keyPair, startTestProviders, toHex } from './client-fixtures.js';
import { expectLoopixError } from './helpers/errors.js';

const backend = clientBackend();
const dir = mkdtempSync(join(tmpdir(), 'loopix-client-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loopix client CLI', () => {
  it('registers `client send` and `client recv` with their options', () => {
    const program = new Command('loopix');
    registerClientCommands(program);
    const client = program.commands.find((c) => c.name() === 'client')!;
    const send = client.commands.find((c) => c.name() === 'send')!;
    const recv = client.commands.find((c) => c.name() === 'recv')!;
    expect(send.options.map((o) => o.long)).toEqual(['--config', '--to', '--message', '--file', '--timeout']);
    expect(recv.options.map((o) => o.long)).toEqual(['--config', '--count', '--timeout']);
  });

  it('send delivers a message that recv prints as a JSON line', async () => {
    const { net, providers } = await startTestProviders(backend, { pullK: FAST_PARAMS.pullK });
    const params = FAST_PARAMS;
    writeFileSync(join(dir, 'topology.json'), JSON.stringify(net.topology.doc));
    const keys = { alice: keyPair(backend), bob: keyPair(backend) };
    for (const [name, k] of Object.entries(keys)) {
      writeFileSync(
        join(dir, `${name}.key.json`),
        JSON.stringify({ type: 'x25519', publicKey: toHex(k.publicKey), privateKey: toHex(k.privateKey) }),
      );
    }
    const config = (name: string, provider: number) => {
      const file = join(dir, `${name}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          keyFile: `${name}.key.json`,
          providerId: net.providers[provider]!.id,
          topologyFile: 'topology.json',
          authorityPublicKey: net.authorityPublicKey,
          params,
          log: { level: 'silent' },
        }),
      );
      return file;
    };
    const aliceConfig = config('alice', 0);
    const bobConfig = config('bob', 1);
    const bobAddress = clientFromConfigFile(bobConfig, { backend }).address;
    expect(bobAddress).toBe(`loopix1:${net.providers[1]!.id}:${toHex(keys.bob.publicKey)}`);

    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const recv = runClientRecv({ config: bobConfig, count: 1, timeout: 20 }, { backend });
      await runClientSend(
        { config: aliceConfig, to: bobAddress, message: 'hi bob, über loopix', timeout: 20 },
        { backend },
      );
      await recv;
    } finally {
      spy.mockRestore();
      stderr.mockRestore();
      for (const p of providers) await p.stop();
    }
    const json = lines
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const sent = json.find((j) => j.sent === true)!;
    const got = json.find((j) => 'text' in j)!;
    expect(sent).toMatchObject({ to: bobAddress, bytes: 20, fragments: 1 });
    expect(got).toMatchObject({ messageId: sent.messageId, text: 'hi bob, über loopix', bytes: 20 });
    expect(Buffer.from(got.base64 as string, 'base64').toString()).toBe('hi bob, über loopix');
    expect(process.exitCode ?? 0).toBe(0);
  });

  it('send refuses to run without exactly one of --message and --file', async () => {
    await expect(runClientSend({ config: 'nope.json', to: 'x', timeout: 1 })).rejects.toThrow(
      /exactly one of --message/,
    );
  });

  it('clientFromConfigFile refuses a directory config with no kept document, naming the file and the fix', () => {
    const k = keyPair(backend);
    writeFileSync(
      join(dir, 'carol.key.json'),
      JSON.stringify({ type: 'x25519', publicKey: toHex(k.publicKey), privateKey: toHex(k.privateKey) }),
    );
    const file = join(dir, 'carol.json');
    const directory = { authorities: [{ publicKey: '11'.repeat(32), url: 'http://127.0.0.1:9' }] };
    writeFileSync(
      file,
      JSON.stringify({
        keyFile: 'carol.key.json',
        providerId: 'ab'.repeat(16),
        topologyFile: 'carol.topology.json',
        directory,
        log: { level: 'silent' },
      }),
    );
    const err = expectLoopixError(
      () => clientFromConfigFile(file, { backend }),
      'ERR_LOOPIX_CLIENT_NO_DOCUMENT',
      'topologyFile',
    );
    expect(err.message).toContain('prepareClientDirectory');
    expect(err.message).toContain('carol.topology.json');
  });
});
