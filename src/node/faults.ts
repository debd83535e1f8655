/**
 * Fault injection for tests and the testnet (`loopix testnet --misbehave mix-2.0:drop=0.3`): a node that
 * misbehaves on purpose so that loss recovery (acknowledgements, retransmission) and bad-server isolation
 * (AnonPoP §5.2) can be exercised against a real process. Applied to forwarded packets only, at the moment
 * they leave the node; never configured on a real network (the node logs a warning at start-up).
 *
 * - `drop`: probability that a packet due to leave is discarded (counted as `fault_injected`);
 * - `delayMs`: extra milliseconds added before a packet leaves (a slow or holding mix);
 * - `tag`: probability that one payload bit is flipped before sending (a tagging attack; LIONESS turns the
 *   payload into noise, so the packet fails its integrity check at the last hop).
 */
import { LoopixError } from '../errors.js';

export interface FaultConfig {
  readonly drop: number;
  readonly delayMs: number;
  readonly tag: number;
}

export type FaultAction = 'send' | 'drop' | 'delay';

export class Faults {
  constructor(
    private readonly f: FaultConfig,
    private readonly random: () => number = Math.random,
  ) {}

  /** True when any fault is configured (the pipeline skips this stage otherwise). */
  static active(f: FaultConfig | undefined): f is FaultConfig {
    return f !== undefined && (f.drop > 0 || f.delayMs > 0 || f.tag > 0);
  }

  /**
   * What to do with `packet` now. May flip one bit of its last byte (inside the LIONESS payload, which every
   * geometry ends with) in place.
   */
  apply(packet: Uint8Array): FaultAction {
    if (this.f.drop > 0 && this.random() < this.f.drop) return 'drop';
    if (this.f.tag > 0 && this.random() < this.f.tag) packet[packet.length - 1]! ^= 0x01;
    return this.f.delayMs > 0 ? 'delay' : 'send';
  }

  get delayMs(): number {
    return this.f.delayMs;
  }
}

/**
 * Parses a testnet `--misbehave` value, `NODE:key=value[,key=value…]` with keys drop, delay (ms) and tag,
 * e.g. `mix-2.0:drop=0.3` or `mix-1.1:delay=250,tag=0.05`. Throws ERR_LOOPIX_CLI_MISBEHAVE naming the part that is wrong.
 */
export function parseMisbehave(spec: string): { node: string; faults: FaultConfig } {
  const colon = spec.indexOf(':');
  if (colon <= 0)
    throw new LoopixError(
      'ERR_LOOPIX_CLI_MISBEHAVE',
      `--misbehave: expected NODE:key=value[,key=value], got "${spec}"`,
    );
  const node = spec.slice(0, colon);
  const faults = { drop: 0, delayMs: 0, tag: 0 };
  for (const part of spec.slice(colon + 1).split(',')) {
    const [key, raw] = part.split('=');
    const value = Number(raw);
    if (raw === undefined || raw === '' || !Number.isFinite(value) || value < 0)
      throw new LoopixError('ERR_LOOPIX_CLI_MISBEHAVE', `--misbehave: "${part}" needs key=non-negative number`);
    if (key === 'drop' || key === 'tag') {
      if (value > 1)
        throw new LoopixError(
          'ERR_LOOPIX_CLI_MISBEHAVE',
          `--misbehave: ${key} is a probability in [0, 1], got ${value}`,
        );
      faults[key] = value;
    } else if (key === 'delay') faults.delayMs = value;
    else throw new LoopixError('ERR_LOOPIX_CLI_MISBEHAVE', `--misbehave: unknown fault "${key}" (drop, delay, tag)`);
  }
  return { node, faults };
}
