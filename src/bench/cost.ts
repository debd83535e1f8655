/**
 * `loopix bench cost`: what one client costs per month to serve, from the measured relay throughput, computed
 * the way AnonPoP §8.3 computes its 2¢ (yearly instance cost plus outgoing-traffic cost, divided by the
 * clients the servers carry). Every price is an ASSUMPTION stated in the result; change them with options.
 *
 * Load per client (issue 4, the paper's rates): λ = 30 packets/min in total (payload-or-drop, loops and drops
 * together), every packet 6 Sphinx hops, i.e. 0.5 packets/s and 3 unwraps/s of server work per client.
 *
 * Compute: the relay benchmark's max_pkt_per_s on a host with `cores` cores gives unwraps per core per
 * second; servers are provisioned at `utilization` of that (default 50 %: where the latency targets are
 * measured, with headroom for Poisson bursts), so clients per instance = utilization × rate per core ×
 * instance cores ÷ 3.
 *
 * Traffic: a packet crosses 4 links between servers (P_s → L1 → L2 → L3 → P_r), each one outgoing traffic
 * of the sending server (a mixnet's servers are run by different operators, so every link is Internet
 * egress); the client's own upload is incoming (free), and the recipient's pulls are egress of its provider:
 * `pullPacketsPerS` packets per second per client (default 0.5, the rate a client receives at when pulls are
 * sized to its traffic; the default config pulls k = 8 every second, i.e. 8/s — see the note). On the wire a
 * packet is 1,314 bytes + 28 bytes of UDP/IPv4 headers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from '../plot/svg.js';
import { DEFAULT_GEOMETRY } from '../geometry.js';
import { writeResults } from './env.js';
import { round } from './stats.js';

export interface PriceScenario {
  readonly name: string;
  /** Instance type and where the price comes from (an assumption, list prices). */
  readonly instance: string;
  readonly vcpus: number;
  /** USD per month for one instance (730 h). */
  readonly instance_usd_per_month: number;
  /** USD per GB of outgoing traffic beyond what is included. */
  readonly egress_usd_per_gb: number;
  /** GB of outgoing traffic per instance per month included in the price. */
  readonly included_gb_per_month: number;
}

/** Price assumptions (USD, list prices of late 2025; checked by hand, not fetched). */
export const DEFAULT_SCENARIOS: readonly PriceScenario[] = [
  {
    name: 'AWS on-demand',
    instance: 'AWS EC2 c7i.large (2 vCPU, 4 GiB), us-east-1 on-demand $0.08925/h; egress $0.09/GB (first 10 TB/month)',
    vcpus: 2,
    instance_usd_per_month: 0.08925 * 730,
    egress_usd_per_gb: 0.09,
    included_gb_per_month: 0,
  },
  {
    name: 'AWS 3-yr reserved',
    instance:
      'AWS EC2 c7i.large 3-year reserved, all upfront ≈ $0.0340/h effective; egress $0.05/GB (the > 150 TB/month tier)',
    vcpus: 2,
    instance_usd_per_month: 0.034 * 730,
    egress_usd_per_gb: 0.05,
    included_gb_per_month: 0,
  },
  {
    name: 'Flat-rate VPS',
    instance:
      'Hetzner Cloud CCX13 (2 dedicated vCPU, 8 GB) €12.49/month ≈ $14.50, 20 TB/month traffic included, then €1/TB ≈ $0.00116/GB',
    vcpus: 2,
    instance_usd_per_month: 14.5,
    egress_usd_per_gb: 0.00116,
    included_gb_per_month: 20_000,
  },
];

export interface CostOptions {
  /** Relay capacity, packets/s, of a host with `cores` cores. */
  readonly maxPktPerS: number;
  readonly cores: number;
  readonly source: string;
  readonly lambdaPerMin: number;
  readonly hopsPerPacket: number;
  readonly serverLinksPerPacket: number;
  readonly pullPacketsPerS: number;
  readonly utilization: number;
  readonly scenarios: readonly PriceScenario[];
}

export const COST_DEFAULTS = {
  lambdaPerMin: 30,
  hopsPerPacket: 6,
  serverLinksPerPacket: 4,
  pullPacketsPerS: 0.5,
  utilization: 0.5,
} as const;

export interface ScenarioCost {
  readonly scenario: string;
  readonly instance: string;
  readonly clients_per_instance: number;
  /** Outgoing traffic of one instance when it carries clients_per_instance clients, GB/month. */
  readonly instance_egress_gb_per_month: number;
  readonly compute_usd_per_client_month: number;
  readonly bandwidth_usd_per_client_month: number;
  readonly total_usd_per_client_month: number;
  readonly total_cents_per_client_month: number;
  readonly meets_1_cent: boolean;
}

export interface CostResult {
  readonly max_pkt_per_s: number;
  readonly measured_on_cores: number;
  readonly throughput_source: string;
  readonly unwraps_per_core_per_s: number;
  readonly per_client: {
    readonly packets_per_s: number;
    readonly unwraps_per_s: number;
    readonly egress_bytes_per_s: number;
    readonly egress_gb_per_month: number;
  };
  readonly utilization: number;
  readonly scenarios: readonly ScenarioCost[];
  /** The cheapest scenario's total, USD per client per month. */
  readonly cost_per_client_month_usd: number;
  /** Compute only (AWS on-demand), USD per client per month: the part the relay's throughput decides. */
  readonly compute_cost_per_client_month_usd: number;
  readonly anonpop_usd_per_client_month: 0.02;
  readonly assumptions: Record<string, unknown>;
  readonly note: string;
}

const SECONDS_PER_MONTH = 30 * 24 * 3600;

export function computeCost(o: CostOptions): CostResult {
  const g = DEFAULT_GEOMETRY;
  const wireBytes = g.packetBytes + 28;
  const pps = o.lambdaPerMin / 60;
  const unwraps = pps * o.hopsPerPacket;
  const egressBps = (pps * o.serverLinksPerPacket + o.pullPacketsPerS) * wireBytes;
  const egressGbMonth = (egressBps * SECONDS_PER_MONTH) / 1e9;
  const perCore = o.maxPktPerS / o.cores;
  const scenarios = o.scenarios.map((s): ScenarioCost => {
    const clients = Math.floor((o.utilization * perCore * s.vcpus) / unwraps);
    const instanceEgress = clients * egressGbMonth;
    const extraGb = Math.max(0, instanceEgress - s.included_gb_per_month);
    const compute = s.instance_usd_per_month / clients;
    const bandwidth = (extraGb * s.egress_usd_per_gb) / clients;
    const total = compute + bandwidth;
    return {
      scenario: s.name,
      instance: s.instance,
      clients_per_instance: clients,
      instance_egress_gb_per_month: round(instanceEgress, 0),
      compute_usd_per_client_month: round(compute, 5),
      bandwidth_usd_per_client_month: round(bandwidth, 5),
      total_usd_per_client_month: round(total, 5),
      total_cents_per_client_month: round(total * 100, 3),
      meets_1_cent: total < 0.01,
    };
  });
  const cheapest = scenarios.reduce((a, b) => (b.total_usd_per_client_month < a.total_usd_per_client_month ? b : a));
  return {
    max_pkt_per_s: o.maxPktPerS,
    measured_on_cores: o.cores,
    throughput_source: o.source,
    unwraps_per_core_per_s: Math.round(perCore),
    per_client: {
      packets_per_s: round(pps, 4),
      unwraps_per_s: round(unwraps, 4),
      egress_bytes_per_s: Math.round(egressBps),
      egress_gb_per_month: round(egressGbMonth, 3),
    },
    utilization: o.utilization,
    scenarios,
    cost_per_client_month_usd: cheapest.total_usd_per_client_month,
    compute_cost_per_client_month_usd: scenarios[0]!.compute_usd_per_client_month,
    anonpop_usd_per_client_month: 0.02,
    assumptions: {
      lambda_per_min: o.lambdaPerMin,
      sphinx_hops_per_packet: o.hopsPerPacket,
      server_links_per_packet: o.serverLinksPerPacket,
      pull_packets_per_s: o.pullPacketsPerS,
      wire_bytes_per_packet: wireBytes,
      utilization: o.utilization,
      month_s: SECONDS_PER_MONTH,
      prices: o.scenarios,
    },
    note:
      'Loopix traffic is constant-rate by design (cover traffic), so outgoing traffic, not CPU, dominates wherever egress is ' +
      'metered: at $0.09/GB one client costs ~' +
      `${round(egressGbMonth * 0.09 * 100, 0)}¢/month in traffic alone. Below 1¢ needs flat-rate traffic. ` +
      'The default client config pulls k = 8 packets every second (8 packets/s of provider egress per client, 16× the 0.5 assumed here).',
  };
}

/** Reads max_pkt_per_s and the host's core count from a relay result file. */
export function readRelayResult(file: string): { maxPktPerS: number; cores: number } | null {
  if (!existsSync(file)) return null;
  const r = JSON.parse(readFileSync(file, 'utf8')) as { max_pkt_per_s?: number; machine?: { cores?: number } };
  if (typeof r.max_pkt_per_s !== 'number') return null;
  return { maxPktPerS: r.max_pkt_per_s, cores: r.machine?.cores ?? 2 };
}

export function costPlot(r: CostResult): TopLevelSpec {
  const data = r.scenarios.flatMap((s) => [
    { scenario: s.scenario, part: 'compute', cents: Math.max(1e-4, s.compute_usd_per_client_month * 100) },
    { scenario: s.scenario, part: 'traffic', cents: Math.max(1e-4, s.bandwidth_usd_per_client_month * 100) },
    { scenario: s.scenario, part: 'total', cents: Math.max(1e-4, s.total_usd_per_client_month * 100) },
  ]);
  data.push({ scenario: 'AnonPoP (paper)', part: 'total', cents: 2 });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Cost per client per month at λ = 30/min, 6 hops (relay ${r.max_pkt_per_s} packets/s on ${r.measured_on_cores} cores; 1¢ target dashed)`,
    width: 520,
    height: 300,
    background: 'white',
    layer: [
      {
        data: { values: data },
        mark: 'bar',
        encoding: {
          x: { field: 'scenario', type: 'nominal', title: '' },
          xOffset: { field: 'part' },
          y: { field: 'cents', type: 'quantitative', title: '¢ per client per month (log)', scale: { type: 'log' } },
          color: { field: 'part', type: 'nominal', title: '' },
        },
      },
      {
        data: { values: [{ y: 1 }] },
        mark: { type: 'rule', strokeDash: [4, 4] },
        encoding: { y: { field: 'y', type: 'quantitative' } },
      },
    ],
  } as unknown as TopLevelSpec;
}

export async function saveCost(dir: string, r: CostResult): Promise<string[]> {
  return writeResults(dir, 'cost', r, costPlot(r));
}

export function defaultRelayFile(resultsDir: string): string {
  return join(resultsDir, 'relay.json');
}
