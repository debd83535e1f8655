/**
 * Every reason a node drops a packet, with its one-line meaning: the single source for the `DropReason` type
 * (src/node/metrics.ts), the `dropped.<reason>` counters of a node's stats, and the drop tables in docs/
 * (test/doc-tables.test.ts checks each of those tables against this one). Add a new reason here, with its
 * description, and to the tables in docs/pipeline.md and docs/operations.md.
 */
export const DROP_REASONS = Object.freeze({
  bad_size: 'datagram or submitted packet of the wrong length (incoming)',
  link_unauthenticated: 'datagram from an address that is no node, or whose link tag does not verify (src/node/link)',
  link_replay: 'link sequence number seen before on that link, or older than the replay window (src/node/link)',
  wrong_layer: 'datagram from a node that is not in an adjacent layer (Loopix §2.1 stratified topology; src/node/link)',
  link_no_key: 'no link key for the next hop: its public key for every live epoch is unknown (src/node/link)',
  wrong_epoch: 'prefix epoch names no key this node holds: a future or unknown epoch (before crypto)',
  key_expired:
    'prefix epoch is behind the current one or its key was retired early (replay filter full), so its key is gone (before crypto, or in a worker when the key went during the batch)',
  aqm: 'random early drop by the AQM controller',
  queue_full: 'processing queue at its hard cap (aqm.hardCapPackets, or a wait of 3 × aqm.targetDelayMs)',
  invalid_length: 'unwrap: packet of the wrong length',
  invalid_version: 'unwrap: unknown format version or non-zero reserved byte',
  invalid_point: 'unwrap: α of small order (all-zero shared secret)',
  invalid_mac: 'unwrap: header MAC does not verify (tampered, wrong key, garbage)',
  invalid_command: 'unwrap: unknown routing command',
  invalid_integrity: 'unwrap: FINAL/LOOP payload whose zero prefix is not zero (tampered payload)',
  replay: 'replay tag seen before under this key (or a Bloom-filter false positive, at most replay.falsePositiveRate)',
  replay_budget: 'more fresh tags than replay.maxRatePps × (time since the epoch began + burst): the filter is protected from exhaustion',
  replay_filter_full: 'the epoch\'s replay filter is full: fail closed, the key stays live and nothing is forgotten',
  replay_log_error: 'the replay log could not be written (disk full, I/O error): a tag that is not durable never lets its packet leave',
  unknown_next: 'RELAY to an id that is not in the topology',
  bad_layer: 'RELAY to a node that is not in the adjacent layer',
  deliver_at_mix: 'DELIVER reached a mix',
  drop_at_mix: 'DROP reached a mix (drop cover ends at providers)',
  drop_cover: 'DROP at a provider: the normal end of a drop cover packet (Loopix §3.2)',
  unexpected_final: 'FINAL or SURB_REPLY reached a node (they end at clients)',
  loop_unknown: 'LOOP addressed to a loop id this node did not send, or already forgot',
  loop_duplicate: 'LOOP with an id that already returned',
  no_inbox: 'DELIVER at a provider running without an inbox',
  unknown_client: 'DELIVER to a client id that may not register (closed registration)',
  inbox_error: 'the inbox refused to store the packet',
  send_error: 'the UDP send failed',
  crypto_error: 'a worker task failed (a bug; every packet of the batch is counted)',
  fault_injected: 'discarded by configured fault injection (node config faults; tests and testnet only)',
  shutdown: 'queued, in flight or held in the delay stage when the node stopped',
} as const);

/** Why a packet left the pipeline without being forwarded, delivered or counted as a returned loop. */
export type DropReason = keyof typeof DROP_REASONS;

/** Every drop reason, in table order. */
export const DROP_REASON_NAMES = Object.freeze(Object.keys(DROP_REASONS)) as readonly DropReason[];
