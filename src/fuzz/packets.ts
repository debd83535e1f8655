/**
 * Packet-path targets: the native and TS `unwrap` / `unwrapBatch` / `openSurbReply`, the SURB parser of
 * `createSurbReply`, `makeGeometry` and the batch record decoder.
 *
 * Crashes: any exception from unwrap (it reports bad packets as `invalid`, never throws), a result of the
 * wrong shape, random bytes that unwrap to anything but `invalid`, the native addon and the TS twin
 * disagreeing on a result or on the bytes left in the buffer (differential: each is the other's oracle), and
 * argument-checked parsers throwing anything but the TypeError / RangeError they document.
 *
 * Mutations start from valid packets of every kind (relay, deliver, final, loop, drop, SURB reply) addressed
 * to the fuzz key, so the fuzzer gets past the version byte and the MAC, where the interesting code is.
 */
import { DEFAULT_GEOMETRY as g, makeGeometry } from '../geometry.js';
import { decodeRecord } from '../sphinx/records.js';
import { Command, type CommandCode, type SphinxBackend, type UnwrapResult } from '../sphinx/types.js';
import type { FuzzTarget } from './harness.js';
import { fromHex, hexOf, mutateBytes, type Rng } from './rng.js';

interface PacketInput {
  readonly key: Uint8Array;
  readonly packet: Uint8Array;
}
const packetJson = {
  toJson: (i: PacketInput) => ({ key: hexOf(i.key), packet: hexOf(i.packet) }),
  fromJson: (j: unknown): PacketInput => {
    const o = j as { key?: unknown; packet?: unknown };
    return { key: fromHex('key', o?.key), packet: fromHex('packet', o?.packet) };
  },
};

const view = (r: UnwrapResult): string =>
  JSON.stringify(r, (_k, v: unknown) => (v instanceof Uint8Array ? hexOf(v) : v));
const outcomeOf = (r: UnwrapResult): string => (r.kind === 'invalid' ? `invalid:${r.reason}` : r.kind);

/** Only these documented argument errors may escape an argument-checked parser. */
function allowArgumentErrors(fn: () => string): string {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RangeError || err instanceof TypeError) return `error:${err.name}`;
    throw err;
  }
}

/** Valid packets of every kind, all addressed to `key` at their first hop, and a SURB. */
function seedPackets(b: SphinxBackend, key: Uint8Array, rng: Rng) {
  const pk = b.x25519Base(key);
  const other = Array.from({ length: 5 }, () => b.x25519Base(rng.bytes(32)));
  const hop = (publicKey: Uint8Array, command: CommandCode) => ({
    publicKey,
    command,
    address: command === Command.DROP ? new Uint8Array(g.addressBytes) : rng.bytes(g.addressBytes),
    delayUs: rng.int(1e6),
  });
  const packets: Uint8Array[] = [];
  const tails: CommandCode[][] = [
    [Command.RELAY, Command.RELAY, Command.DELIVER, Command.FINAL],
    [Command.FINAL],
    [Command.LOOP],
    [Command.DROP],
    [Command.DELIVER, Command.FINAL],
  ];
  for (const cmds of tails) {
    const hops = cmds.map((c, i) => hop(i === 0 ? pk : other[i]!, c));
    packets.push(
      b.createPacket(g, {
        epoch: rng.int(65536),
        hops,
        content: rng.bytes(rng.int(g.contentBytes + 1)),
        seed: rng.bytes(32),
      }),
    );
  }
  const surb = b.createSurb(g, {
    epoch: 1,
    hops: [hop(pk, Command.SURB_REPLY)],
    firstHop: rng.bytes(g.addressBytes),
    seed: rng.bytes(32),
  });
  packets.push(b.createSurbReply(g, surb.surb, rng.bytes(100)).packet);
  return { packets, surb };
}

/** Packet-level mutations: the byte mutations plus Sphinx-aware ones (alpha, payload). */
function mutatePacket(rng: Rng, base: Uint8Array): Uint8Array {
  switch (rng.int(8)) {
    case 0: {
      // alpha replaced by a low-order or random point
      const p = base.slice();
      p.set(rng.chance(0.5) ? new Uint8Array(g.groupBytes) : rng.bytes(g.groupBytes), g.offsets.alpha);
      return p;
    }
    case 1: {
      // payload-only damage (passes the MAC, must fail integrity later or relay garbage)
      const p = base.slice();
      p[g.offsets.payload + rng.int(g.payloadBytes)]! ^= 0xff;
      return p;
    }
    default:
      return mutateBytes(rng, base);
  }
}

export function packetTargets(native: SphinxBackend, ts: SphinxBackend, rng: Rng): FuzzTarget<never>[] {
  const key = rng.bytes(32);
  const { packets, surb } = seedPackets(native, key, rng);
  const records = new Uint8Array(8 * g.recordBytes);

  const unwrapMutated: FuzzTarget<PacketInput> = {
    name: 'native-unwrap-mutated',
    share: 0.23, // 0.03 went to the link framing (src/fuzz/link.ts), 0.04 to the directory objects (src/fuzz/directory.ts): the shares still sum to 1
    generate: (r) => ({ key, packet: mutatePacket(r, r.pick(packets)) }),
    check: ({ key: k, packet }) => {
      const res = native.unwrap(g, k, packet.slice());
      if (res.kind !== 'invalid' && packet.length !== g.packetBytes)
        throw new Error(`accepted a ${packet.length}-byte packet`);
      return outcomeOf(res);
    },
    ...packetJson,
  };

  const unwrapRandom: FuzzTarget<PacketInput> = {
    name: 'native-unwrap-random',
    share: 0.12,
    generate: (r) => {
      const packet = r.bytes(r.int(3) === 0 ? g.packetBytes : r.int(2 * g.packetBytes));
      if (packet.length > 1 && r.chance(0.5)) {
        packet[0] = g.version;
        packet[1] = 0;
      }
      return { key, packet };
    },
    check: ({ key: k, packet }) => {
      const res = native.unwrap(g, k, packet.slice());
      if (res.kind !== 'invalid') throw new Error(`random bytes unwrapped to ${res.kind}`);
      return outcomeOf(res);
    },
    ...packetJson,
  };

  const unwrapBatch: FuzzTarget<PacketInput> = {
    name: 'native-unwrap-batch',
    share: 0.04,
    generate: (r) => {
      const n = 1 + r.int(8);
      const batch = new Uint8Array(n * g.packetBytes);
      for (let i = 0; i < n; i++) {
        const p = r.chance(0.5) ? mutatePacket(r, r.pick(packets)).subarray(0, g.packetBytes) : r.bytes(g.packetBytes);
        batch.set(p, i * g.packetBytes);
      }
      return { key, packet: batch };
    },
    check: ({ key: k, packet }) => {
      if (packet.length % g.packetBytes !== 0 || packet.length === 0 || packet.length > 8 * g.packetBytes)
        return 'skipped:shape';
      const n = packet.length / g.packetBytes;
      const batch = packet.slice();
      if (native.unwrapBatch(g, k, batch, records) !== n) throw new Error('wrong batch count');
      const kinds: string[] = [];
      for (let i = 0; i < n; i++)
        kinds.push(decodeRecord(g, records, i, batch.subarray(i * g.packetBytes, (i + 1) * g.packetBytes)).kind);
      return `batch:${[...new Set(kinds)].sort().join('+')}`;
    },
    ...packetJson,
  };

  const differential: FuzzTarget<PacketInput> = {
    name: 'differential-unwrap',
    share: 0.01,
    generate: (r) => ({ key, packet: r.int(4) ? mutatePacket(r, r.pick(packets)) : r.bytes(g.packetBytes) }),
    check: ({ key: k, packet }) => {
      const a = packet.slice();
      const b = packet.slice();
      const ra = native.unwrap(g, k, a);
      const rb = ts.unwrap(g, k, b);
      if (view(ra) !== view(rb)) throw new Error(`native ${view(ra)} vs ts ${view(rb)}`);
      if (hexOf(a) !== hexOf(b)) throw new Error('native and ts left different bytes');
      return outcomeOf(ra);
    },
    ...packetJson,
  };

  interface SurbOpenInput {
    readonly keys: Uint8Array;
    readonly payload: Uint8Array;
    readonly ts: boolean;
  }
  const openSurb: FuzzTarget<SurbOpenInput> = {
    name: 'open-surb-reply',
    share: 0.03,
    generate: (r) => ({
      payload: r.bytes(r.int(3) ? g.payloadBytes : r.int(2 * g.payloadBytes)),
      keys: r.chance(0.5) ? surb.decryptionKeys : r.bytes(r.int(4) * g.lionessKeyBytes),
      ts: r.int(50) === 0,
    }),
    check: (i) =>
      allowArgumentErrors(() => {
        if ((i.ts ? ts : native).openSurbReply(g, i.keys, i.payload.slice()) !== null)
          throw new Error('random payload opened');
        return 'null';
      }),
    toJson: (i) => ({ keys: hexOf(i.keys), payload: hexOf(i.payload), ts: i.ts }),
    fromJson: (j) => {
      const o = j as Record<string, unknown>;
      return { keys: fromHex('keys', o?.keys), payload: fromHex('payload', o?.payload), ts: o?.ts === true };
    },
  };

  interface SurbReplyInput {
    readonly surb: Uint8Array;
    readonly content: Uint8Array;
  }
  const surbParser: FuzzTarget<SurbReplyInput> = {
    name: 'surb-reply-parser',
    share: 0.04,
    generate: (r) => ({
      surb: r.chance(0.5) ? mutateBytes(r, surb.surb) : r.bytes(r.int(2 * g.surbBytes)),
      content: r.bytes(r.int(g.contentBytes + 1)),
    }),
    check: (i) =>
      allowArgumentErrors(() => {
        const { packet } = native.createSurbReply(g, i.surb, i.content);
        if (packet.length !== g.packetBytes) throw new Error('reply of the wrong size');
        return 'reply';
      }),
    toJson: (i) => ({ surb: hexOf(i.surb), content: hexOf(i.content) }),
    fromJson: (j) => {
      const o = j as Record<string, unknown>;
      return { surb: fromHex('surb', o?.surb), content: fromHex('content', o?.content) };
    },
  };

  type Odd = number | string | null | undefined;
  const ODD: readonly Odd[] = [1.5, NaN, 1e9, '6', null, undefined, Infinity, -0];
  const oddJson = (v: Odd) =>
    typeof v === 'number' && !Number.isFinite(v)
      ? { num: String(v) }
      : v === undefined
        ? { undef: true }
        : Object.is(v, -0)
          ? { num: '-0' }
          : v;
  const oddFrom = (v: unknown): Odd => {
    if (v && typeof v === 'object') {
      const o = v as { num?: string; undef?: boolean };
      if (o.undef) return undefined;
      if (o.num !== undefined) return Number(o.num);
    }
    return v as Odd;
  };
  interface GeometryInput {
    readonly maxHops: Odd;
    readonly addressBytes: Odd;
    readonly contentBytes: Odd;
  }
  const geometry: FuzzTarget<GeometryInput> = {
    name: 'geometry-parser',
    share: 0.06,
    generate: (r) => {
      const pick = (): Odd => (r.int(3) ? r.int(100) - r.int(5) : r.chance(0.3) ? r.int(5000) : r.pick(ODD));
      return { maxHops: pick(), addressBytes: pick(), contentBytes: pick() };
    },
    check: (i) =>
      allowArgumentErrors(() => {
        const geo = makeGeometry(i as never);
        if (geo.packetBytes !== geo.offsets.payload + geo.payloadBytes)
          throw new Error(`inconsistent geometry ${JSON.stringify(i)}`);
        return 'ok';
      }),
    toJson: (i) => ({
      maxHops: oddJson(i.maxHops),
      addressBytes: oddJson(i.addressBytes),
      contentBytes: oddJson(i.contentBytes),
    }),
    fromJson: (j) => {
      const o = (j ?? {}) as Record<string, unknown>;
      return {
        maxHops: oddFrom(o.maxHops),
        addressBytes: oddFrom(o.addressBytes),
        contentBytes: oddFrom(o.contentBytes),
      };
    },
  };

  interface RecordInput {
    readonly record: Uint8Array;
    readonly packet: Uint8Array;
  }
  const record: FuzzTarget<RecordInput> = {
    name: 'record-decoder',
    share: 0.06,
    generate: (r) => ({ record: r.bytes(g.recordBytes), packet: r.bytes(g.packetBytes) }),
    check: (i) => {
      if (i.record.length !== g.recordBytes || i.packet.length !== g.packetBytes) return 'skipped:shape';
      return outcomeOf(decodeRecord(g, i.record, 0, i.packet));
    },
    toJson: (i) => ({ record: hexOf(i.record), packet: hexOf(i.packet) }),
    fromJson: (j) => {
      const o = j as Record<string, unknown>;
      return { record: fromHex('record', o?.record), packet: fromHex('packet', o?.packet) };
    },
  };

  return [
    unwrapMutated,
    unwrapRandom,
    unwrapBatch,
    differential,
    openSurb,
    surbParser,
    geometry,
    record,
  ] as FuzzTarget<never>[];
}
