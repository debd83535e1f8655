/**
 * Every reason a node drops a packet, with its one-line meaning: the single source for the `DropReason` type
 * (src/node/metrics.ts), the `dropped.<reason>` counters of a node's stats, and the drop tables in docs/
 * (test/doc-tables.test.ts checks each of those tables against this one). Add a new reason here, with its
 * description, and to the tables in docs/pipeline.md and docs/operations.md.
 */
export const DROP_REASONS = Object.freeze({
  bad_size: 'datagram or submitted packet of the wrong length (incoming)',
  link_unauthenticated:
    'datagram from an address that is no node, or whose link tag does not verify: forged, altered or under another key (src/node/link, before any Sphinx work)',
  wrong_layer:
    'datagram from a node that is not in the layer before this one (Loopix §2.1 stratified topology; src/node/link)',
  link_replay:
    'link sequence number already accepted on that link, or older than its 2,048-number window: a captured datagram sent again (src/node/link)',
  link_no_key:
    'no link key for the next hop: its public key for the live epochs is unknown, or it is not in the next layer (src/node/link)',
  wrong_epoch: 'prefix epoch names no key this node holds: a future or unknown epoch (before crypto)',
  key_expired:
    'prefix epoch is behind the current one or its key was retired early (its replay filter could not be opened), so its key is gone (before crypto, or in a worker when the key went during the batch)',
  aqm: 'random early drop by the AQM controller',
  queue_full: 'processing queue at its hard cap (aqm.hardCapPackets, or a wait of aqm.maxQueueDelayMs)',
  excessive_delay:
    'header asks for a per-hop delay above the network bound (topology maxDelayUs; after unwrap, before the replay check)',
  held_full: 'delay stage at its cap (pipeline.maxHeldPackets): the packet would have been held',
  invalid_length: 'unwrap: packet of the wrong length',
  invalid_version: 'unwrap: unknown format version or non-zero reserved byte',
  invalid_point: 'unwrap: α of small order (all-zero shared secret)',
  invalid_mac: 'unwrap: header MAC does not verify (tampered, wrong key, garbage)',
  invalid_command: 'unwrap: unknown routing command',
  invalid_integrity: 'unwrap: FINAL/LOOP payload whose zero prefix is not zero (tampered payload)',
  replay: 'replay tag seen before under this key (or a Bloom-filter false positive, at most replay.falsePositiveRate)',
  replay_budget:
    'more new replay tags than replay.maxRatePps × (seconds since the epoch began + 60): the filter cannot be exhausted before its key retires',
  replay_filter_full:
    "the epoch's replay filter is full: fail closed, the key stays live and no tag is forgotten (rotate keys)",
  replay_log_error:
    'the replay log could not be written (disk full, I/O error): a packet whose tag is not durable never leaves',
  unknown_next: 'RELAY to an id that is not in the topology',
  bad_layer: 'RELAY to a node that is not in the adjacent layer',
  deliver_at_mix: 'DELIVER reached a mix',
  drop_at_mix: 'DROP reached a mix (drop cover ends at providers)',
  drop_cover: 'DROP at a provider: the normal end of a drop cover packet (Loopix §3.2)',
  unexpected_final: 'FINAL or SURB_REPLY reached a node (they end at clients, or FINAL at a post office)',
  loop_unknown: 'LOOP addressed to a loop id this node did not send, or already forgot',
  loop_duplicate: 'LOOP with an id that already returned',
  no_inbox: 'DELIVER at a provider running without an inbox',
  unknown_client: 'DELIVER to a client id that may not register (closed registration)',
  inbox_error: 'the inbox refused to store the packet',
  send_error: 'the UDP send failed',
  crypto_error: 'a worker task failed (a bug; every packet of the batch is counted)',
  fault_injected: 'discarded by configured fault injection (node config faults; tests and testnet only)',
  po_malformed:
    'post office: a FINAL request with an unknown operation, a non-zero reserved address, or a PULL whose SURB the reply cannot be built from',
  po_pull_oversized: 'post office: a PULL whose body is longer than one SURB (non-zero bytes after it)',
  po_surb_first_hop: 'post office: a PULL whose SURB does not start at this post office (it could not send the answer)',
  po_store_error: 'post office: the mailbox database refused a PUSH (nothing stored)',
  shutdown: 'queued, in flight or held in the delay stage when the node stopped',
} as const);

/** Why a packet left the pipeline without being forwarded, delivered or counted as a returned loop. */
export type DropReason = keyof typeof DROP_REASONS;

/** Every drop reason, in table order. */
export const DROP_REASON_NAMES = Object.freeze(Object.keys(DROP_REASONS)) as readonly DropReason[];
