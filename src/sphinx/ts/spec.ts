/**
 * Argument checks of the public packet API: every error is a TypeError or RangeError naming the argument and
 * what was expected (`hops must have 1..6 entries, got 7`). Packet contents are never checked here — those
 * become `invalid` results on the packet path.
 */
import type { Geometry } from '../../geometry.js';
import { Command, MAX_DELAY_US, type HopSpec } from '../types.js';
import { checkBytes, checkInteger, checkLength, randomBytes } from './primitives.js';

/** Largest key epoch: the prefix holds it as uint16. */
export const MAX_EPOCH = 0xffff;

const COMMANDS: ReadonlySet<number> = new Set(Object.values(Command));

/** Whether `value` is one of the six routing commands. */
export function isCommand(value: number): boolean {
  return COMMANDS.has(value);
}

export function checkGeometry(g: unknown): Geometry {
  if (typeof g !== 'object' || g === null || typeof (g as Geometry).packetBytes !== 'number') {
    throw new TypeError('g must be a Geometry (see makeGeometry)');
  }
  return g as Geometry;
}

export function checkEpoch(epoch: unknown): number {
  return checkInteger('epoch', epoch, 0, MAX_EPOCH);
}

export function checkSpec(spec: unknown): void {
  if (typeof spec !== 'object' || spec === null) throw new TypeError('spec must be an object');
}

/** hops: 1..r entries, each with a 32-byte public key, a known command, an A-byte address and a valid delay. */
export function checkHops(g: Geometry, hops: unknown): readonly HopSpec[] {
  if (!Array.isArray(hops)) throw new TypeError(`hops must be an array of 1..${g.maxHops} entries`);
  if (hops.length < 1 || hops.length > g.maxHops) {
    throw new RangeError(`hops must have 1..${g.maxHops} entries, got ${hops.length}`);
  }
  hops.forEach((hop: unknown, i) => {
    const name = `hops[${i}]`;
    if (typeof hop !== 'object' || hop === null) throw new TypeError(`${name} must be an object`);
    const h = hop as HopSpec;
    checkLength(`${name}.publicKey`, h.publicKey, g.publicKeyBytes);
    if (typeof h.command !== 'number' || !isCommand(h.command)) {
      throw new RangeError(`${name}.command must be one of ${[...COMMANDS].join(', ')}, got ${String(h.command)}`);
    }
    checkLength(`${name}.address`, h.address, g.addressBytes);
    checkInteger(`${name}.delayUs`, h.delayUs, 0, MAX_DELAY_US);
  });
  return hops as readonly HopSpec[];
}

/** content: at most C bytes. */
export function checkContent(g: Geometry, content: unknown): Uint8Array {
  const c = checkBytes('content', content);
  if (c.length > g.contentBytes)
    throw new RangeError(`content must be at most ${g.contentBytes} bytes, got ${c.length}`);
  return c;
}

/** The seed when one is given (32 bytes), else undefined. */
export function checkSeed(g: Geometry, seed: unknown): Uint8Array | undefined {
  return seed === undefined ? undefined : checkLength('seed', seed, g.seedBytes);
}

/** A fresh random seed. */
export function randomSeed(g: Geometry): Uint8Array {
  return randomBytes(g.seedBytes);
}
