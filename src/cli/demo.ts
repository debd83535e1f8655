/**
 * `loopix demo`: Sphinx packets through a full default path (provider, three mixes, provider, recipient) in
 * one process, with live statistics once a second. It shows the packet core working end to end — create,
 * six unwraps, integrity check at the recipient, drops counted by reason — before the networked testnet.
 * One packet in a hundred is tampered with on purpose, so the drop counters have something to count.
 */
import { DEFAULT_GEOMETRY as g } from '../geometry.js';
import { loadSphinx } from '../sphinx/loader.js';
import { Command, type HopSpec } from '../sphinx/types.js';

const NAMES = ['provider A', 'mix L1', 'mix L2', 'mix L3', 'provider B', 'recipient'];

export async function runDemo(o: { seconds?: number; rate: number }): Promise<void> {
  const { backend: b } = loadSphinx();
  const keys = NAMES.map(() => crypto.getRandomValues(new Uint8Array(32)));
  const commands = [Command.RELAY, Command.RELAY, Command.RELAY, Command.RELAY, Command.DELIVER, Command.FINAL];
  const hops: HopSpec[] = keys.map((k, i) => ({
    publicKey: b.x25519Base(k),
    command: commands[i]!,
    address: new TextEncoder()
      .encode((NAMES[i + 1] ?? 'message').padEnd(g.addressBytes, ' '))
      .subarray(0, g.addressBytes),
    delayUs: 0,
  }));
  const totals = { created: 0, delivered: 0, intact: 0, dropped: {} as Record<string, number> };
  let window = { created: 0, delivered: 0 };
  let sequence = 0;
  process.stdout.write(`loopix demo: ${b.name} Sphinx, ${g.packetBytes}-byte packets over ${NAMES.join(' → ')}\n`);
  process.stdout.write('   time   created/s  delivered/s  delivered  intact  dropped (by reason)\n');

  const tick = () => {
    // Create and route one second's share of packets in 10 ms slices, so the event loop stays responsive.
    const n = Math.max(1, Math.round(o.rate / 100));
    for (let k = 0; k < n; k++) {
      const content = new TextEncoder().encode(`message ${sequence++}`);
      const packet = b.createPacket(g, { epoch: 1, hops, content });
      totals.created++;
      window.created++;
      if (sequence % 100 === 0) packet[g.offsets.payload + 5]! ^= 1; // a tagging attempt
      for (let i = 0; i < keys.length; i++) {
        const r = b.unwrap(g, keys[i]!, packet);
        if (r.kind === 'invalid') {
          const reason = `${NAMES[i]}: ${r.reason}`;
          totals.dropped[reason] = (totals.dropped[reason] ?? 0) + 1;
          break;
        }
        if (r.kind === 'final') {
          totals.delivered++;
          window.delivered++;
          if (new TextDecoder().decode(r.content.subarray(0, content.length)) === `message ${sequence - 1}`)
            totals.intact++;
        }
      }
    }
  };
  const started = Date.now();
  const work = setInterval(tick, 10);
  const report = setInterval(() => {
    const t = ((Date.now() - started) / 1000).toFixed(0).padStart(6);
    const dropped =
      Object.entries(totals.dropped)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || '-';
    process.stdout.write(
      `${t}s ${String(window.created).padStart(10)} ${String(window.delivered).padStart(12)} ${String(totals.delivered).padStart(10)} ${String(totals.intact).padStart(7)}  ${dropped}\n`,
    );
    window = { created: 0, delivered: 0 };
  }, 1000);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (o.seconds) setTimeout(stop, o.seconds * 1000).unref();
  });
  clearInterval(work);
  clearInterval(report);
  process.stdout.write(
    `${JSON.stringify({ created: totals.created, delivered: totals.delivered, delivered_intact: totals.intact, dropped: totals.dropped })}\n`,
  );
}
