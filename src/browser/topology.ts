/**
 * The browser client's topology: fetched over HTTP(S) as JSON and verified in the page (the @noble verifier,
 * src/topology/portable-verify.ts) against trust the application ships — one authority key, or the
 * directory's k of n. With rotating keys (docs/operations.md "Key epochs") each epoch's document must be
 * adopted before the epoch after next begins, so `followTopology` polls the URL and hands every newer valid
 * document to the client; a bad one is reported and the current one kept.
 */
import { LoopixError } from '../errors.js';
import { verifyTopologyPortable, type PortableTopologyTrust } from '../topology/portable-verify.js';
import { TopologyIndex } from '../topology/topology-index.js';
import type { AnyTopology } from '../topology/types.js';

export type FetchLike = (
  url: string,
  init?: { cache?: 'no-store' },
) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

/** GETs `url` (no cache) and verifies the document; throws ERR_LOOPIX_CLIENT_TOPOLOGY_FETCH or the verifier's error. */
export async function fetchTopology(
  url: string,
  trust: PortableTopologyTrust,
  fetchFn: FetchLike = (u, i) => fetch(u, i as RequestInit),
): Promise<TopologyIndex> {
  let doc: unknown;
  try {
    const res = await fetchFn(url, { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    doc = await res.json();
  } catch (err) {
    throw new LoopixError('ERR_LOOPIX_CLIENT_TOPOLOGY_FETCH', `topology ${url}: ${(err as Error).message}`, {
      field: 'topologyUrl',
      cause: err,
    });
  }
  return new TopologyIndex(verifyTopologyPortable(doc as AnyTopology, trust));
}

export interface FollowTopologyOptions {
  readonly url: string;
  readonly trust: PortableTopologyTrust;
  /** The client (or anything) holding the current document; `setTopology` is called with each newer one. */
  readonly target: { readonly topology: TopologyIndex; setTopology(next: TopologyIndex): void };
  /** Poll interval, ms (default 30 000: a 20-minute epoch is adopted well within its first minute). */
  readonly intervalMs?: number;
  readonly onError?: (err: Error) => void;
  readonly fetch?: FetchLike;
}

/** Polls the topology URL until `stop()`; adopts a document of a later epoch or a later issue time. */
export function followTopology(o: FollowTopologyOptions): { stop(): void; poll(): Promise<void> } {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const poll = async (): Promise<void> => {
    try {
      const next = await fetchTopology(o.url, o.trust, o.fetch);
      const cur = o.target.topology.doc;
      if (next.doc.epoch > cur.epoch || (next.doc.epoch === cur.epoch && next.doc.issuedAt > cur.issuedAt))
        o.target.setTopology(next);
    } catch (err) {
      o.onError?.(err as Error);
    }
  };
  const loop = () => {
    if (stopped) return;
    timer = setTimeout(() => void poll().then(loop), o.intervalMs ?? 30_000);
  };
  loop();
  return {
    poll,
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
