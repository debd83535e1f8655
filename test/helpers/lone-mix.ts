/**
 * One mix process under test between two stand-in neighbours: a testnet of one mix layer and two providers
 * (src/testnet/network.ts) of which only the mix runs, provider-1 as a LinkPeer that sends to it (the layer
 * before) and provider-0 as a LinkPeer that receives what it forwards, both speaking the authenticated node
 * link with the providers' own keys.
 */
import { createTestnetFiles, type CreateTestnetOptions, type TestnetFiles } from '../../src/testnet/network.js';
import { NodeProcess } from '../../src/testnet/processes.js';
import { native } from './backends.js';
import { LinkPeer } from './link-peer.js';

export interface LoneMix {
  readonly files: TestnetFiles;
  readonly mix: NodeProcess;
  /** provider-0: what the mix forwards arrives here. */
  readonly sink: LinkPeer;
  /** provider-1: sends to the mix. */
  readonly sender: LinkPeer;
  /** Stops the mix and closes both peers (the caller removes `dir`). */
  close(): Promise<void>;
}

export async function startLoneMix(
  dir: string,
  o: Omit<CreateTestnetOptions, 'dir' | 'shape' | 'backend'> & { readonly epoch: number },
): Promise<LoneMix> {
  const { epoch, ...rest } = o;
  const files = await createTestnetFiles({
    dir,
    shape: { layers: 1, perLayer: 1, providers: 2, epoch },
    backend: native,
    ...rest,
  });
  const peer = (name: string) => {
    const n = files.nodes.find((x) => x.name === name)!;
    return LinkPeer.fromKeyFile(files.index, n.entry, n.keyFile, native.x25519);
  };
  const sink = await peer('provider-0');
  let sender: LinkPeer | undefined;
  let mix: NodeProcess | undefined;
  const close = async () => {
    await mix?.stop();
    await sink.close();
    await sender?.close();
  };
  try {
    sender = await peer('provider-1');
    mix = new NodeProcess(
      files.nodes.find((n) => n.role === 'mix')!,
      dir,
    );
    mix.start();
    await mix.ready;
  } catch (err) {
    await close();
    throw err;
  }
  return { files, mix, sink, sender, close };
}
