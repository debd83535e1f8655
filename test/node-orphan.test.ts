/**
 * A node started by a parent over IPC (as the testnet starts them) exits when the parent dies — also when the
 * parent dies while the node is still starting, which once left orphaned nodes running.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { native } from './helpers/backends.js';
import { makeNetwork, type TestNetwork } from './node-fixture.js';

const BIN = fileURLToPath(new URL('../bin/loopix.js', import.meta.url));
let net: TestNetwork | undefined;
afterAll(() => net?.cleanup());

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a node whose parent dies', () => {
  it('exits by itself even when the parent died during its start-up', async () => {
    net = await makeNetwork(native);
    const config = net.writeConfig('mix-1.0');
    // The parent forks the node with an IPC channel, prints its pid and exits at once (mid start-up).
    const parent = `const { fork } = require('node:child_process');
      const c = fork(${JSON.stringify(BIN)}, ['mix', '--config', ${JSON.stringify(config)}], { stdio: 'ignore', detached: true });
      console.log(c.pid); process.exit(0);`;
    const r = spawnSync(process.execPath, ['-e', parent], { encoding: 'utf8' });
    const pid = Number(r.stdout.trim());
    expect(pid).toBeGreaterThan(0);
    const deadline = Date.now() + 20_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
    const stillAlive = alive(pid);
    if (stillAlive) process.kill(pid, 'SIGKILL');
    expect(stillAlive).toBe(false);
  }, 30_000);
});
