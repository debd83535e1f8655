/**
 * The Sphinx vector cases: fixed keys, seeds and paths from which test/vectors/sphinx-v1.json is generated
 * (by generate.ts) and against which both implementations are checked (test/vectors.test.ts).
 */
import { makeGeometry, type Geometry, type GeometryParams } from '../../src/geometry.js';
import { Command, type CommandCode, type SphinxBackend } from '../../src/sphinx/types.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

export interface VectorHop {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly command: CommandCode;
  readonly address: Uint8Array;
  readonly delayUs: number;
}

export interface VectorCase {
  readonly name: string;
  readonly geometry: Geometry;
  readonly epoch: number;
  readonly hops: readonly VectorHop[];
  readonly content: Uint8Array;
  readonly seed: Uint8Array;
  /** When set, the case is a SURB: built with createSurb, answered with createSurbReply(content). */
  readonly surb: boolean;
}

type Step = readonly [CommandCode, number];

function buildCase(
  b: SphinxBackend,
  name: string,
  params: Partial<GeometryParams>,
  steps: readonly Step[],
  contentLength: number,
  surb = false,
): VectorCase {
  const g = makeGeometry(params);
  const derive = (label: string, n: number) =>
    b.hkdfSha256(ascii('loopix-vectors'), ascii(`${name} ${label}`), new Uint8Array(0), n);
  const hops = steps.map(([command, delayUs], i) => {
    const privateKey = derive(`hop ${i} private key`, g.privateKeyBytes);
    return {
      privateKey,
      publicKey: b.x25519Base(privateKey),
      command,
      address: command === Command.DROP ? new Uint8Array(g.addressBytes) : derive(`hop ${i} address`, g.addressBytes),
      delayUs,
    };
  });
  return {
    name,
    geometry: g,
    epoch: 42,
    hops,
    content: derive('content', contentLength),
    seed: derive('seed', g.seedBytes),
    surb,
  };
}

const { RELAY, DELIVER, DROP, FINAL, LOOP, SURB_REPLY } = Command;

export function vectorCases(b: SphinxBackend): VectorCase[] {
  return [
    buildCase(
      b,
      'forward-6-hops',
      {},
      [
        [RELAY, 1_500],
        [RELAY, 250_000],
        [RELAY, 0],
        [RELAY, 4_294_967_295],
        [DELIVER, 10],
        [FINAL, 0],
      ],
      1024,
    ),
    buildCase(
      b,
      'loop-6-hops',
      {},
      [
        [RELAY, 7],
        [RELAY, 8],
        [RELAY, 9],
        [RELAY, 10],
        [DELIVER, 11],
        [LOOP, 0],
      ],
      16,
    ),
    buildCase(
      b,
      'drop-5-hops',
      {},
      [
        [RELAY, 1],
        [RELAY, 2],
        [RELAY, 3],
        [RELAY, 4],
        [DROP, 0],
      ],
      0,
    ),
    buildCase(b, 'final-1-hop', {}, [[FINAL, 0]], 1),
    buildCase(
      b,
      'surb-reply-6-hops',
      {},
      [
        [RELAY, 100],
        [RELAY, 200],
        [RELAY, 300],
        [RELAY, 400],
        [DELIVER, 0],
        [SURB_REPLY, 0],
      ],
      700,
      true,
    ),
    buildCase(
      b,
      'large-geometry-8-hops',
      { maxHops: 8, addressBytes: 32, contentBytes: 2048 },
      [
        [RELAY, 1],
        [RELAY, 2],
        [RELAY, 3],
        [RELAY, 4],
        [RELAY, 5],
        [RELAY, 6],
        [DELIVER, 7],
        [FINAL, 0],
      ],
      2048,
    ),
  ];
}

/** Builds the first packet of a case (for a SURB case: the reply packet). */
export function firstPacket(
  b: SphinxBackend,
  c: VectorCase,
): { packet: Uint8Array; decryptionKeys?: Uint8Array; surb?: Uint8Array } {
  if (!c.surb)
    return { packet: b.createPacket(c.geometry, { epoch: c.epoch, hops: c.hops, content: c.content, seed: c.seed }) };
  const { surb, decryptionKeys } = b.createSurb(c.geometry, {
    epoch: c.epoch,
    hops: c.hops,
    firstHop: new Uint8Array(c.geometry.addressBytes).fill(0xa5),
    seed: c.seed,
  });
  const { packet } = b.createSurbReply(c.geometry, surb, c.content);
  return { packet, decryptionKeys, surb };
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Every byte and result of a case, hop by hop, as JSON-ready hex: what the vector file stores. */
export function trace(b: SphinxBackend) {
  return vectorCases(b).map((c) => {
    const { packet, decryptionKeys, surb } = firstPacket(b, c);
    const packets = [toHex(packet)];
    const results: unknown[] = [];
    for (const hop of c.hops) {
      const r = b.unwrap(c.geometry, hop.privateKey, packet);
      results.push(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Uint8Array ? toHex(v) : v])));
      packets.push(toHex(packet));
      if (r.kind === 'surbReply' && decryptionKeys) {
        const opened = b.openSurbReply(c.geometry, decryptionKeys, r.payload);
        results.push({ opened: opened ? toHex(opened) : null });
      }
    }
    return {
      name: c.name,
      geometry: {
        maxHops: c.geometry.maxHops,
        addressBytes: c.geometry.addressBytes,
        contentBytes: c.geometry.contentBytes,
      },
      epoch: c.epoch,
      hops: c.hops.map((h) => ({
        privateKey: toHex(h.privateKey),
        publicKey: toHex(h.publicKey),
        command: h.command,
        address: toHex(h.address),
        delayUs: h.delayUs,
      })),
      content: toHex(c.content),
      seed: toHex(c.seed),
      ...(surb ? { surb: toHex(surb), decryptionKeys: toHex(decryptionKeys!) } : {}),
      packets,
      results,
    };
  });
}
