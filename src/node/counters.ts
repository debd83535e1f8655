/**
 * Every event counter a node reports under `counters` in its stats (docs/operations.md "Monitoring"), with
 * its meaning. `count(name)` takes only these names, so a renamed or misspelt counter fails `tsc` instead of
 * silently starting a new series. Drops are not here: they are `dropped.<reason>` (src/node/drop-reasons.ts).
 */
export const COUNTERS = Object.freeze({
  received: 'packets that arrived (UDP datagrams and client SUBMITs)',
  client_submitted: 'packets that arrived as a client SUBMIT (provider)',
  processed: 'packets unwrapped by the crypto workers',
  crypto_batches: 'crypto worker tasks (processed ÷ crypto_batches is the mean batch)',
  forwarded: 'packets sent on to the next node',
  delivered: 'packets committed to a client inbox (provider; counted after the SQLite commit)',
  loops_sent: "the node's own loop cover packets sent",
  loops_returned: "the node's own loops that came back",
  loop_create_error: 'a loop packet could not be built (a bug; the loop is skipped)',
  socket_error: 'errors reported by the UDP socket',
  key_changes: 'keys installed or retired by the epoch clock',
  keys_retired_early: "epochs whose key was retired early because the epoch's replay filter was full",
  replay_near_full: "an epoch's replay filter reached 90 % of its designed capacity",
  replay_fill_alerts: "an epoch's replay filter passed 50 %, 75 % or 90 % of its capacity (one count per threshold)",
  replay_filters_full: "an epoch's replay filter reached capacity and fails closed (replay_filter_full drops; the key stays live)",
  replay_resets: 'replay filters emptied when full (benchmark-only replay.unsafeResetWhenFull)',
  replay_log_errors: 'failed appends to a replay filter log',
  replay_snapshot_errors: 'failed replay filter snapshots',
  topology_updates: 'a newer topology document was read and applied',
  topology_refresh_errors: 're-reading the topology or key file failed (the node keeps the old one)',
  ws_connections: 'WebSocket connections opened (provider)',
  ws_closed: 'WebSocket connections closed',
  ws_auth_ok: 'successful client authentications',
  ws_auth_failed: 'failed client authentication proofs',
  ws_auth_timeout: 'connections closed for not authenticating in time',
  ws_not_registered: 'authenticated keys refused by closed registration',
  ws_too_large: 'frames over provider.maxFrameBytes',
  ws_text_frame: 'text frames (the protocol is binary)',
  ws_malformed: 'frames that do not decode',
  ws_unexpected: 'frames out of order for the session state',
  ws_internal_error: 'sessions closed by an internal error (a bug)',
  ws_submit: 'SUBMIT frames accepted',
  ws_submit_throttled: 'SUBMIT frames over the per-client rate, dropped',
  ws_pull_throttled: 'PULL frames over the per-client rate, left unanswered',
  ws_rate_limited: 'connections closed with RATE_LIMITED after persistent excess',
  ws_too_many_connections: 'connections refused beyond limits.maxConnectionsPerAddress',
  ws_pulls: 'PULL replies sent',
  ws_pull_stored: 'stored packets served in pull replies',
  ws_pull_dummies: 'dummy packets padding pull replies',
  ws_pull_forgotten: "an older pull reply's ids forgotten (more than 64 unacknowledged replies)",
  ws_acks: 'ACK frames',
  ws_ack_empty: 'ACKs naming no remembered reply',
  ws_acked_packets: 'stored packets deleted by ACKs',
  ws_send_dropped: 'frames the WebSocket could not send (backpressure or closed)',
} as const);

/** A counter name `count()` accepts. */
export type CounterName = keyof typeof COUNTERS;
