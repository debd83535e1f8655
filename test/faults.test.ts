import { describe, expect, it, vi } from 'vitest';
import { Faults, parseMisbehave } from '../src/node/faults.js';
import { Outgoing } from '../src/node/outgoing.js';
import { expectLoopixError } from './helpers/errors.js';

function rig(faults: Faults) {
  const sent: Uint8Array[] = [];
  const drops: string[] = [];
  const counts: string[] = [];
  const out = new Outgoing(
    { send: (msg, _port, _host, cb) => (sent.push(msg.slice()), cb(null)) },
    { count: (n) => counts.push(n), drop: (r) => drops.push(r) },
    () => {},
    faults,
  );
  return { out, sent, drops, counts };
}
const to = { host: '127.0.0.1', port: 9 };

describe('fault injection', () => {
  it('drops forwarded packets at the configured rate and counts each as fault_injected', () => {
    let u = 0;
    const seq = [0.1, 0.5, 0.2, 0.9]; // drop = 0.3: the 1st and 3rd are dropped
    const { out, sent, drops } = rig(new Faults({ drop: 0.3, delayMs: 0, tag: 0 }, () => seq[u++ % seq.length]!));
    for (let i = 0; i < 4; i++) out.send(new Uint8Array(8), to);
    expect(sent).toHaveLength(2);
    expect(drops).toEqual(['fault_injected', 'fault_injected']);
  });

  it('never touches the node’s own loops', () => {
    const { out, sent } = rig(new Faults({ drop: 1, delayMs: 0, tag: 0 }));
    out.send(new Uint8Array(8), to, 'loops_sent');
    expect(sent).toHaveLength(1);
  });

  it('flips the last payload bit when tagging', () => {
    const { out, sent } = rig(new Faults({ drop: 0, delayMs: 0, tag: 1 }));
    out.send(new Uint8Array(8), to);
    expect(sent[0]![7]).toBe(1);
  });

  it('holds a copy for the extra delay, so a reused batch buffer cannot change what is sent', () => {
    vi.useFakeTimers();
    try {
      const { out, sent } = rig(new Faults({ drop: 0, delayMs: 250, tag: 0 }));
      const buf = new Uint8Array(8).fill(7);
      out.send(buf, to);
      buf.fill(0);
      expect(sent).toHaveLength(0);
      vi.advanceTimersByTime(250);
      expect(sent).toHaveLength(1);
      expect(sent[0]![0]).toBe(7);
    } finally {
      vi.useRealTimers();
    }
  });

  it('parses --misbehave and names the wrong part with a stable code', () => {
    expect(parseMisbehave('mix-2.0:drop=0.3,delay=200')).toEqual({
      node: 'mix-2.0',
      faults: { drop: 0.3, delayMs: 200, tag: 0 },
    });
    for (const bad of ['mix-2.0', 'mix-2.0:drop=2', 'mix-2.0:slow=1', 'mix-2.0:drop=x']) {
      expectLoopixError(() => parseMisbehave(bad), 'ERR_LOOPIX_CLI_MISBEHAVE');
    }
  });
});
