/**
 * One mix with rotating keys (a key store of consecutive epoch keys, src/testnet/network.ts) and the one
 * provider before it, for tests that watch a key epoch end on a real mix process. The test starts the mix
 * itself; the provider never runs — the test binds its address and keys as a LinkPeer
 * (helpers/link-peer.ts), since the mix's link layer accepts datagrams from the layer before it only, and
 * counts what the mix forwards back to it. The mix sends no loops of its own: every packet is the test's.
 */
import { Command } from '../../src/sphinx/types.js';
import { createTestnetFiles, type TestnetFiles, type TestnetNode } from '../../src/testnet/network.js';
import { native } from './backends.js';
import { LinkPeer } from './link-peer.js';

export interface RotatingMix {
  readonly files: TestnetFiles;
  readonly mix: TestnetNode;
  readonly provider: TestnetNode;
  /** The mix's public key for `epoch`. */
  keyOf(epoch: number): Uint8Array;
  /** Binds the provider's address with its keys: what the mix forwards arrives here. */
  bindProvider(): Promise<LinkPeer>;
  /** A packet whose one hop is the mix under its key for `epoch`, relayed to the provider after `delayUs`. */
  packetFor(epoch: number, o: { readonly delayUs: number; readonly content: Uint8Array }): Uint8Array;
}

export async function rotatingMixFiles(
  dir: string,
  o: {
    readonly epoch: number;
    readonly epochLengthS: number;
    readonly epochKeys: number;
    readonly graceS: number;
    /** Extra top-level node config (replay, pipeline, …). */
    readonly nodeConfig?: Record<string, unknown>;
  },
): Promise<RotatingMix> {
  const files = await createTestnetFiles({
    dir,
    shape: {
      layers: 1,
      perLayer: 1,
      providers: 1,
      epoch: o.epoch,
      epochLengthS: o.epochLengthS,
      epochKeys: o.epochKeys,
    },
    backend: native,
    params: { lambdaM: 1e-4 }, // no own loops
    nodeConfig: {
      statsIntervalS: 0.25,
      log: { level: 'info' },
      epochs: { graceS: o.graceS, refreshS: 1 },
      ...o.nodeConfig,
    },
  });
  const mix = files.nodes.find((n) => n.role === 'mix')!;
  const provider = files.nodes.find((n) => n.role === 'provider')!;
  const keyOf = (epoch: number) =>
    Uint8Array.from(Buffer.from(files.epochPublicKeys!.get(mix.entry.id)!.get(epoch)!, 'hex'));
  return {
    files,
    mix,
    provider,
    keyOf,
    bindProvider: () => LinkPeer.fromKeyFile(files.index, provider.entry, provider.keyFile, native.x25519),
    packetFor: (epoch, p) =>
      native.createPacket(files.index.geometry, {
        epoch: epoch & 0xffff,
        hops: [
          {
            publicKey: keyOf(epoch),
            command: Command.RELAY,
            address: Uint8Array.from(Buffer.from(provider.entry.id, 'hex')),
            delayUs: p.delayUs,
          },
        ],
        content: p.content,
      }),
  };
}
