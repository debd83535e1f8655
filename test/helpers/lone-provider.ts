/**
 * One provider process under test, fed by the test itself: a one-mix testnet (src/testnet/network.ts) of
 * which only the provider runs, and a LinkPeer bound as the mix, so the test sends over the authenticated
 * node link exactly what the provider's one upstream neighbour could send (and replays or forges as an
 * attacker on that link would). The provider runs one crypto worker and a lenient AQM (target delay 5 s): on
 * a loaded test machine early AQM drops would lose packets the test counts.
 */
import type { NetworkParams } from '../../src/config/schema.js';
import { native } from './backends.js';
import { LinkPeer } from './link-peer.js';
import { lightNodeConfig, startProcessNet, type ProcessNet } from './process-net.js';

/**
 * Network parameters for a lone provider's test: little cover and few loops of its own (λ = 1–2/s, λM = 0.2/s),
 * so what the provider stores and serves is mostly the test's; µ = 20/s. A test adds its pull schedule.
 */
export const LONE_PROVIDER_PARAMS = { lambdaP: 2, lambdaL: 1, lambdaD: 1, lambdaM: 0.2, mu: 20 } as const;

export interface LoneProvider {
  readonly pn: ProcessNet;
  /** Bound to the mix's announced address with the mix's keys. */
  readonly mix: LinkPeer;
}

export async function startLoneProvider(o: {
  readonly prefix: string;
  readonly params: Partial<NetworkParams>;
}): Promise<LoneProvider> {
  const pn = await startProcessNet({
    prefix: o.prefix,
    start: (n) => n.role === 'provider',
    shape: { layers: 1, perLayer: 1, providers: 1, epoch: 5 },
    backend: native,
    params: o.params,
    nodeConfig: lightNodeConfig({ statsIntervalS: 0.1, log: 'warn', aqm: { targetDelayMs: 5000 } }),
  });
  try {
    const entry = pn.files.nodes.find((n) => n.role === 'mix')!;
    const mix = await LinkPeer.fromKeyFile(pn.files.index, entry.entry, entry.keyFile, native.x25519);
    return { pn, mix };
  } catch (err) {
    await pn.close();
    throw err;
  }
}
