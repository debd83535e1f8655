/**
 * Prometheus names for a node's metrics (src/node/metrics.ts): the stages keep counting under their short
 * names (`count('forwarded')`, `gauge('aqm_queue_delay_ms', …)`); this table gives each its exported name,
 * help text and unit conversion, following the Prometheus conventions: a `loopix_` prefix, base units in the
 * name (seconds, bytes, ratio), `_total` on counters.
 *
 * A name missing from the tables still exports, as `loopix_<name>_total` (counter) or `loopix_<name>`
 * (gauge) with a generic help text, so a new counter is never lost; add it here to give it a proper name.
 * dashboards/loopix.json may only query names a node really exports (test/ops-dashboard.test.ts).
 */

import { COUNTERS as COUNTER_HELP } from '../node/counters.js';

export interface CounterMetric {
  readonly name: string;
  readonly help: string;
}

export interface GaugeMetric {
  readonly name: string;
  readonly help: string;
  /** Multiply the stage's value by this to get the exported unit (ms → s: 0.001). */
  readonly scale: number;
}

/** Every `drop(reason)`: one family, the reason as a label (docs/operations.md "Monitoring" lists them). */
export const DROPPED_METRIC: CounterMetric = {
  name: 'loopix_packets_dropped_total',
  help: 'Packets that left the pipeline without being forwarded, delivered or returning as an own loop, by reason.',
};

const COUNTERS: Readonly<Record<string, CounterMetric>> = {
  received: { name: 'loopix_packets_received_total', help: 'Packets that arrived: UDP datagrams and client SUBMITs.' },
  client_submitted: {
    name: 'loopix_client_packets_submitted_total',
    help: 'Packets that arrived as a client SUBMIT (provider).',
  },
  processed: { name: 'loopix_packets_unwrapped_total', help: 'Packets unwrapped by the crypto workers.' },
  crypto_batches: {
    name: 'loopix_crypto_batches_total',
    help: 'Crypto worker tasks (unwrapped / batches is the mean batch size).',
  },
  forwarded: { name: 'loopix_packets_forwarded_total', help: 'Packets sent on to the next node (UDP send completed).' },
  delivered: {
    name: 'loopix_packets_delivered_total',
    help: 'Packets committed to a client inbox (provider, after the SQLite commit).',
  },
  loops_sent: { name: 'loopix_loops_sent_total', help: "The node's own loop cover packets sent (Loopix 4.2.1)." },
  loops_returned: { name: 'loopix_loops_returned_total', help: "The node's own loops that came back." },
  loop_create_error: {
    name: 'loopix_loop_create_errors_total',
    help: 'Loop packets that could not be built (a bug; the loop is skipped).',
  },
  socket_error: { name: 'loopix_udp_socket_errors_total', help: 'Errors reported by the UDP socket.' },
  key_changes: { name: 'loopix_key_changes_total', help: 'Keys installed or retired by the epoch clock.' },
  keys_retired_early: {
    name: 'loopix_keys_retired_early_total',
    help: "Epoch keys retired early because the epoch's replay filter was full.",
  },
  replay_near_full: {
    name: 'loopix_replay_filter_near_full_total',
    help: "An epoch's replay filter reached 90 % of its capacity.",
  },
  replay_resets: {
    name: 'loopix_replay_filter_resets_total',
    help: 'Replay filters emptied when full (benchmark-only setting).',
  },
  replay_log_errors: { name: 'loopix_replay_log_errors_total', help: 'Failed appends to a replay filter log.' },
  replay_snapshot_errors: { name: 'loopix_replay_snapshot_errors_total', help: 'Failed replay filter snapshots.' },
  topology_updates: { name: 'loopix_topology_updates_total', help: 'Newer topology documents read and applied.' },
  topology_refresh_errors: {
    name: 'loopix_topology_refresh_errors_total',
    help: 'Failed re-reads of the topology or key file (the node keeps the old one).',
  },
  ws_connections: {
    name: 'loopix_ws_connections_opened_total',
    help: 'Client WebSocket connections opened (provider).',
  },
};

/** Stage gauge name → exported gauge; `null` for gauges the process metrics already cover. */
const GAUGES: Readonly<Record<string, GaugeMetric | null>> = {
  queue_packets: {
    name: 'loopix_queue_packets',
    help: 'Packets waiting for a crypto worker (batcher and dispatch queue).',
    scale: 1,
  },
  in_flight_batches: {
    name: 'loopix_crypto_in_flight_batches',
    help: 'Batches being unwrapped by the crypto workers.',
    scale: 1,
  },
  in_flight_packets: {
    name: 'loopix_crypto_in_flight_packets',
    help: 'Packets being unwrapped by the crypto workers.',
    scale: 1,
  },
  aqm_drop_probability: {
    name: 'loopix_aqm_drop_probability_ratio',
    help: 'Random early drop probability of the AQM controller (0..1).',
    scale: 1,
  },
  aqm_queue_delay_ms: {
    name: 'loopix_aqm_queue_delay_seconds',
    help: 'Queueing delay the AQM controller last measured, seconds.',
    scale: 0.001,
  },
  scheduled_packets: {
    name: 'loopix_held_packets',
    help: "Packets held in the delay stage for their Exp(mu) delay: the mix's pool.",
    scale: 1,
  },
  pipeline_mode: {
    name: 'loopix_pipeline_mode',
    help: 'Packet path in use: 2 for the sharded pipeline (SO_REUSEPORT shards); absent on the pool pipeline.',
    scale: 1,
  },
  reuseport_spread: {
    name: 'loopix_reuseport_random_spread',
    help: '1 when the random-spread program is attached to the sharded pipeline SO_REUSEPORT group (sharded mode).',
    scale: 1,
  },
  main_thread_cpu_us: {
    name: 'loopix_main_thread_cpu_seconds',
    help: "CPU time of the node's main thread since start, seconds (cumulative).",
    scale: 1e-6,
  },
  workers: { name: 'loopix_crypto_workers', help: 'Crypto worker threads running.', scale: 1 },
  key_epoch: { name: 'loopix_key_epoch', help: 'The key epoch the node is in.', scale: 1 },
  key_epochs_live: {
    name: 'loopix_key_epochs_live',
    help: 'Epoch keys held (previous in grace, current, next).',
    scale: 1,
  },
  replay_tags: { name: 'loopix_replay_filter_tags', help: "Replay tags in the current epoch's filter.", scale: 1 },
  replay_capacity: {
    name: 'loopix_replay_filter_capacity_tags',
    help: "Designed capacity of one epoch's replay filter, tags.",
    scale: 1,
  },
  replay_max_rate_pps: {
    name: 'loopix_replay_filter_max_rate_packets_per_second',
    help: 'Packet rate the replay filters are sized for (replay.maxRatePps), packets/s.',
    scale: 1,
  },
  replay_fill_fraction: {
    name: 'loopix_replay_filter_fill_ratio',
    help: "Fill of the current epoch's replay filter: tags over designed capacity (0..1).",
    scale: 1,
  },
  replay_fp_rate: {
    name: 'loopix_replay_filter_false_positive_ratio',
    help: "False-positive rate of the current epoch's filter at its present fill.",
    scale: 1,
  },
  replay_filter_mb: {
    name: 'loopix_replay_filter_bytes',
    help: 'Memory of the live replay filters, bytes.',
    scale: 1024 * 1024,
  },
  socket_buffer_requested_bytes: {
    name: 'loopix_udp_socket_buffer_requested_bytes',
    help: 'UDP socket buffer size the config asks for, bytes.',
    scale: 1,
  },
  socket_recv_buffer_bytes: {
    name: 'loopix_udp_receive_buffer_bytes',
    help: 'Effective UDP receive buffer, bytes (capped by net.core.rmem_max).',
    scale: 1,
  },
  socket_send_buffer_bytes: {
    name: 'loopix_udp_send_buffer_bytes',
    help: 'Effective UDP send buffer, bytes (capped by net.core.wmem_max).',
    scale: 1,
  },
  udp_port: { name: 'loopix_udp_port', help: 'UDP port the node listens on.', scale: 1 },
  udp_kernel_drops: {
    name: 'loopix_udp_kernel_drops',
    help: "Datagrams the kernel dropped on the node's socket (/proc/net/udp; cumulative).",
    scale: 1,
  },
  sphinx_native: {
    name: 'loopix_sphinx_native',
    help: '1 when the native Sphinx addon runs, 0 on the TypeScript twin.',
    scale: 1,
  },
  loop_return_fraction: {
    name: 'loopix_loop_return_ratio',
    help: "Fraction of the node's own loops due in the window that returned (Loopix 4.2.1).",
    scale: 1,
  },
  loops_due_in_window: {
    name: 'loopix_loops_due_in_window',
    help: 'Own loops due back within the loop window.',
    scale: 1,
  },
  loops_outstanding: {
    name: 'loopix_loops_outstanding',
    help: 'Own loops sent and not yet returned or expired.',
    scale: 1,
  },
  loop_alarm: { name: 'loopix_loop_alarm', help: '1 while the (n-1) loop alarm stands (Loopix 4.2.1).', scale: 1 },
  loop_rate_per_s: {
    name: 'loopix_loop_rate_per_second',
    help: 'Current own loop rate lambda_M, 1/s (raised during an alarm).',
    scale: 1,
  },
  uws_native: {
    name: 'loopix_ws_uws_native',
    help: '1 when uWebSockets.js runs its native binary, 0 on its slow JS fallback (provider).',
    scale: 1,
  },
  ws_connections: { name: 'loopix_ws_sessions', help: 'Client WebSocket sessions open (provider).', scale: 1 },
  ws_port: { name: 'loopix_ws_port', help: 'WebSocket port of the client front end (provider).', scale: 1 },
  inbox_packets: { name: 'loopix_inbox_packets', help: 'Packets stored in client inboxes (provider).', scale: 1 },
  // Process memory: exported by prom-client's process metrics (process_resident_memory_bytes, nodejs_heap_*).
  rss_mb: null,
  heap_used_mb: null,
  array_buffers_mb: null,
};

/**
 * Upper bounds of the exported processing-overhead histogram, seconds: 0.1 ms .. 10 s, roughly ×2.5 apart
 * (the JSON snapshot keeps its finer log-spaced buckets).
 */
export const OVERHEAD_BUCKETS_S: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
];

const sanitize = (name: string): string => name.toLowerCase().replace(/[^a-z0-9_]/g, '_');

export function counterMetric(name: string): CounterMetric {
  const known = COUNTERS[name];
  if (known) return known;
  // Help text from the counter table of src/node/counters.ts (one description per counter).
  const described = (COUNTER_HELP as Readonly<Record<string, string>>)[name];
  const help = described ? `${described[0]!.toUpperCase()}${described.slice(1)}.` : `Node event counter ${name}.`;
  return {
    name: name.startsWith('ws_') ? `loopix_ws_${sanitize(name.slice(3))}_total` : `loopix_${sanitize(name)}_total`,
    help,
  };
}

/** The exported gauge for a stage gauge, or null when it is not exported (see GAUGES). */
export function gaugeMetric(name: string): GaugeMetric | null {
  if (name in GAUGES) return GAUGES[name]!;
  return { name: `loopix_${sanitize(name)}`, help: `Node gauge ${name}.`, scale: 1 };
}
