/**
 * `loopix fuzz` / `npm run fuzz`: random and mutated inputs against everything that parses untrusted bytes.
 *
 * Targets and what counts as a crash:
 *  - native and TS `unwrap` / `unwrapBatch` / `openSurbReply` (packet path): any exception, a result of the
 *    wrong shape, or — for inputs fed to both — the two implementations disagreeing on the result or on the
 *    bytes left in the buffer (differential fuzzing: the twin is the oracle for the addon and vice versa);
 *  - argument-checked parsers (`makeGeometry`, `createSurbReply` on a hostile SURB, record decoding): any
 *    exception other than the TypeError/RangeError they document.
 * Mutations start from valid packets of every kind (relay, deliver, final, loop, drop, SURB reply) so the
 * fuzzer gets past the version byte and the MAC, where the interesting code is.
 */
import { DEFAULT_GEOMETRY as g, makeGeometry } from '../geometry.js';
import { decodeRecord } from '../sphinx/records.js';
import { Command, type SphinxBackend, type UnwrapResult } from '../sphinx/types.js';

export interface FuzzOptions {
  readonly iterations: number;
  readonly seed: number;
  readonly native: SphinxBackend;
  readonly ts: SphinxBackend;
  readonly log?: (line: string) => void;
}

export interface FuzzCrash {
  readonly target: string;
  readonly message: string;
  readonly input: string;
}

export interface FuzzReport {
  readonly inputs: number;
  readonly crashes: FuzzCrash[];
  readonly byTarget: Record<string, number>;
  readonly seconds: number;
}

/** xorshift128+: fast, seedable, reproducible — the fuzzer needs speed and replayability, not secrecy. */
function makeRng(seed: number) {
  let s0 = BigInt(seed) * 0x9e3779b97f4a7c15n + 1n;
  let s1 = s0 ^ 0xdeadbeefcafebaben;
  const M = 0xffff_ffff_ffff_ffffn;
  const next = (): bigint => {
    let x = s0;
    const y = s1;
    s0 = y;
    x = (x ^ (x << 23n)) & M;
    s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return (s1 + y) & M;
  };
  const int = (n: number): number => Number(next() % BigInt(Math.max(1, n)));
  const bytes = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 8) {
      let v = next();
      for (let j = i; j < Math.min(n, i + 8); j++, v >>= 8n) out[j] = Number(v & 0xffn);
    }
    return out;
  };
  return { int, bytes };
}
type Rng = ReturnType<typeof makeRng>;

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const view = (r: UnwrapResult): string => JSON.stringify(r, (_k, v) => (v instanceof Uint8Array ? hexOf(v) : v));

/** Valid packets of every kind, all addressed to `key` at their first hop. */
function seedCorpus(b: SphinxBackend, key: Uint8Array, rng: Rng) {
  const pk = b.x25519Base(key);
  const other = Array.from({ length: 5 }, () => b.x25519Base(rng.bytes(32)));
  const hop = (publicKey: Uint8Array, command: (typeof Command)[keyof typeof Command]) => ({
    publicKey, command, address: command === Command.DROP ? new Uint8Array(g.addressBytes) : rng.bytes(g.addressBytes), delayUs: rng.int(1e6),
  });
  const corpus: Uint8Array[] = [];
  const tails: [(typeof Command)[keyof typeof Command], ...(typeof Command)[keyof typeof Command][]][] = [
    [Command.RELAY, Command.RELAY, Command.DELIVER, Command.FINAL],
    [Command.FINAL],
    [Command.LOOP],
    [Command.DROP],
    [Command.DELIVER, Command.FINAL],
  ];
  for (const cmds of tails) {
    const hops = cmds.map((c, i) => hop(i === 0 ? pk : other[i]!, c));
    corpus.push(b.createPacket(g, { epoch: rng.int(65536), hops, content: rng.bytes(rng.int(g.contentBytes + 1)) }));
  }
  const surb = b.createSurb(g, { epoch: 1, hops: [hop(pk, Command.SURB_REPLY)], firstHop: rng.bytes(g.addressBytes) });
  corpus.push(b.createSurbReply(g, surb.surb, rng.bytes(100)).packet);
  return { corpus, surb };
}

function mutate(rng: Rng, base: Uint8Array): Uint8Array {
  const p = base.slice();
  switch (rng.int(7)) {
    case 0: // one bit
      p[rng.int(p.length)]! ^= 1 << rng.int(8);
      return p;
    case 1: // a few random bytes
      for (let k = 1 + rng.int(8); k > 0; k--) p[rng.int(p.length)] = rng.int(256);
      return p;
    case 2: // truncate
      return p.subarray(0, rng.int(p.length));
    case 3: // extend
      return Uint8Array.from([...p, ...rng.bytes(1 + rng.int(64))]);
    case 4: // a region overwritten with an interesting constant
      p.fill([0x00, 0xff, 0x7f, 0x80][rng.int(4)]!, rng.int(p.length), rng.int(p.length + 1));
      return p;
    case 5: // alpha replaced by a low-order or random point
      p.set(rng.int(2) ? new Uint8Array(g.groupBytes) : rng.bytes(g.groupBytes), g.offsets.alpha);
      return p;
    default: // payload-only damage (passes the MAC, must fail integrity later or relay garbage)
      p[g.offsets.payload + rng.int(g.payloadBytes)]! ^= 0xff;
      return p;
  }
}

export function runFuzz(opts: FuzzOptions): FuzzReport {
  const { native, ts, iterations } = opts;
  const log = opts.log ?? (() => {});
  const rng = makeRng(opts.seed);
  const key = rng.bytes(32);
  const { corpus, surb } = seedCorpus(native, key, rng);
  const crashes: FuzzCrash[] = [];
  const byTarget: Record<string, number> = {};
  const started = performance.now();
  const crash = (target: string, message: string, input: Uint8Array) => {
    if (crashes.length < 100) crashes.push({ target, message, input: hexOf(input).slice(0, 4096) });
  };
  const count = (target: string) => (byTarget[target] = (byTarget[target] ?? 0) + 1);
  const records = new Uint8Array(8 * g.recordBytes);

  // Share of the iterations per target (sums to 1); the differential TS target is ~100x slower per input.
  const plan: [string, number][] = [
    ['native-unwrap-mutated', 0.45],
    ['native-unwrap-random', 0.2],
    ['native-unwrap-batch', 0.05],
    ['differential-unwrap', 0.01],
    ['open-surb-reply', 0.04],
    ['surb-reply-parser', 0.05],
    ['geometry-parser', 0.1],
    ['record-decoder', 0.1],
  ];
  let done = 0;
  for (const [target, share] of plan) {
    const n = Math.max(1, Math.round(iterations * share));
    for (let i = 0; i < n; i++, done++) {
      count(target);
      let input: Uint8Array = new Uint8Array(0);
      try {
        switch (target) {
          case 'native-unwrap-mutated': {
            input = mutate(rng, corpus[rng.int(corpus.length)]!);
            const r = native.unwrap(g, key, input);
            if (r.kind !== 'invalid' && input.length !== g.packetBytes) crash(target, `accepted a ${input.length}-byte packet`, input);
            break;
          }
          case 'native-unwrap-random': {
            input = rng.bytes(rng.int(3) === 0 ? g.packetBytes : rng.int(2 * g.packetBytes));
            if (input.length > 1 && rng.int(2)) { input[0] = g.version; input[1] = 0; }
            const r = native.unwrap(g, key, input);
            if (r.kind !== 'invalid') crash(target, `random bytes unwrapped to ${r.kind}`, input);
            break;
          }
          case 'native-unwrap-batch': {
            const n = 1 + rng.int(8);
            const batch = new Uint8Array(n * g.packetBytes);
            for (let k = 0; k < n; k++) batch.set(rng.int(2) ? mutate(rng, corpus[rng.int(corpus.length)]!).subarray(0, g.packetBytes) : rng.bytes(g.packetBytes), k * g.packetBytes);
            input = batch.slice();
            if (native.unwrapBatch(g, key, batch, records) !== n) crash(target, 'wrong batch count', input);
            for (let k = 0; k < n; k++) decodeRecord(g, records, k, batch.subarray(k * g.packetBytes, (k + 1) * g.packetBytes));
            break;
          }
          case 'differential-unwrap': {
            input = rng.int(4) ? mutate(rng, corpus[rng.int(corpus.length)]!) : rng.bytes(g.packetBytes);
            const a = input.slice();
            const b = input.slice();
            const ra = view(native.unwrap(g, key, a));
            const rb = view(ts.unwrap(g, key, b));
            if (ra !== rb) crash(target, `native ${ra} vs ts ${rb}`, input);
            else if (hexOf(a) !== hexOf(b)) crash(target, 'native and ts left different bytes', input);
            break;
          }
          case 'open-surb-reply': {
            input = rng.bytes(rng.int(3) ? g.payloadBytes : rng.int(2 * g.payloadBytes));
            const keys = rng.int(2) ? surb.decryptionKeys : rng.bytes(rng.int(4) * g.lionessKeyBytes);
            const b = rng.int(50) === 0 ? ts : native;
            try {
              if (b.openSurbReply(g, keys, input) !== null) crash(target, 'random payload opened', input);
            } catch (err) {
              // Only argument errors (wrong key-set or payload length) are allowed.
              if (!(err instanceof RangeError || err instanceof TypeError)) throw err;
            }
            break;
          }
          case 'surb-reply-parser': {
            input = rng.int(2) ? mutate(rng, surb.surb) : rng.bytes(rng.int(2 * g.surbBytes));
            try {
              const { packet } = native.createSurbReply(g, input, rng.bytes(rng.int(g.contentBytes + 1)));
              if (packet.length !== g.packetBytes) crash(target, 'reply of the wrong size', input);
            } catch (err) {
              if (!(err instanceof RangeError || err instanceof TypeError)) throw err;
            }
            break;
          }
          case 'geometry-parser': {
            const pick = () => [rng.int(100), -rng.int(5), 1.5, NaN, 1e9, '6', null, undefined][rng.int(8)];
            try {
              makeGeometry({ maxHops: pick(), addressBytes: pick(), contentBytes: pick() } as never);
            } catch (err) {
              if (!(err instanceof RangeError || err instanceof TypeError)) throw err;
            }
            break;
          }
          case 'record-decoder': {
            input = rng.bytes(g.recordBytes);
            decodeRecord(g, input, 0, rng.bytes(g.packetBytes));
            break;
          }
        }
      } catch (err) {
        crash(target, err instanceof Error ? `${err.name}: ${err.message}` : String(err), input);
      }
      if (done % 100_000 === 0 && done > 0) log(`fuzz: ${done} inputs, ${crashes.length} crashes so far`);
    }
  }
  return { inputs: done, crashes, byTarget, seconds: (performance.now() - started) / 1000 };
}
