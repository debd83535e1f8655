/**
 * Structural checks of a topology body (field by field, errors that name the field), shared by signing and
 * every verifier. Runtime-neutral: no Node built-in.
 */
import { TopologyError } from '../errors.js';
import { makeGeometry, type Geometry } from '../geometry.js';
import type { TopologyBody } from './types.js';

const HEX = /^[0-9a-f]*$/;

export function fail(path: string, message: string): never {
  throw new TopologyError(`topology ${path}: ${message}`, {
    code: path.startsWith('signature') ? 'ERR_LOOPIX_TOPOLOGY_SIGNATURE' : 'ERR_LOOPIX_TOPOLOGY_INVALID',
    field: path,
  });
}

export function hexField(path: string, value: unknown, bytes: number): void {
  if (typeof value !== 'string' || !HEX.test(value) || value.length !== bytes * 2) {
    fail(path, `must be ${bytes} bytes of lowercase hex, got ${JSON.stringify(value)}`);
  }
}

/** Structural checks with errors that name the field; run before signing and after verifying. */
/** Array.isArray without its `any[]` narrowing, which would turn every element of a checked array into `any`. */
function isArray(v: unknown): v is readonly unknown[] {
  return Array.isArray(v);
}

export function validateBody(body: TopologyBody): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    fail('(root)', `must be an object, got ${JSON.stringify(body)}`);
  if (body.version !== 1) fail('version', `must be 1, got ${JSON.stringify(body.version)}`);
  if (!Number.isInteger(body.epoch) || body.epoch < 0)
    fail('epoch', `must be a non-negative integer, got ${JSON.stringify(body.epoch)}`);
  if ((body.epochLengthS === undefined) !== (body.epochStartMs === undefined))
    fail('epochLengthS', 'epochLengthS and epochStartMs must be given together');
  if (
    body.epochLengthS !== undefined &&
    (typeof body.epochLengthS !== 'number' || !(body.epochLengthS >= 1) || body.epochLengthS > 366 * 86_400)
  ) {
    fail('epochLengthS', `must be a number of seconds in 1..${366 * 86_400}, got ${JSON.stringify(body.epochLengthS)}`);
  }
  if (body.epochStartMs !== undefined && (!Number.isInteger(body.epochStartMs) || body.epochStartMs < 0)) {
    fail('epochStartMs', `must be a non-negative integer (unix ms), got ${JSON.stringify(body.epochStartMs)}`);
  }
  let g: Geometry;
  try {
    g = makeGeometry(body.geometry);
  } catch (err) {
    return fail('geometry', (err as Error).message);
  }
  if (!Number.isInteger(body.layers) || body.layers < 1)
    fail('layers', `must be a positive integer, got ${JSON.stringify(body.layers)}`);
  if (
    body.maxDelayUs !== undefined &&
    (!Number.isInteger(body.maxDelayUs) || body.maxDelayUs < 1 || body.maxDelayUs > 0xffff_ffff)
  ) {
    fail(
      'maxDelayUs',
      `must be an integer number of microseconds in 1..4294967295, got ${JSON.stringify(body.maxDelayUs)}`,
    );
  }
  if (!isArray(body.nodes) || body.nodes.length === 0) fail('nodes', 'must be a non-empty array');
  const ids = new Set<string>();
  body.nodes.forEach((n, i) => {
    const at = `nodes[${i}]`;
    if (n === null || typeof n !== 'object' || isArray(n)) fail(at, `must be an object, got ${JSON.stringify(n)}`);
    hexField(`${at}.id`, n.id, g.addressBytes);
    if (ids.has(n.id)) fail(`${at}.id`, `duplicate id ${n.id}`);
    ids.add(n.id);
    if (n.role !== 'mix' && n.role !== 'provider')
      fail(`${at}.role`, `must be "mix" or "provider", got ${JSON.stringify(n.role)}`);
    const layerOk =
      n.role === 'provider' ? n.layer === 0 : Number.isInteger(n.layer) && n.layer >= 1 && n.layer <= body.layers;
    if (!layerOk)
      fail(
        `${at}.layer`,
        `${n.role} layer must be ${n.role === 'provider' ? '0' : `1..${body.layers}`}, got ${JSON.stringify(n.layer)}`,
      );
    if (
      !n.udp ||
      typeof n.udp.host !== 'string' ||
      !Number.isInteger(n.udp.port) ||
      n.udp.port < 1 ||
      n.udp.port > 65535
    ) {
      fail(`${at}.udp`, `must be {host, port 1..65535}, got ${JSON.stringify(n.udp)}`);
    }
    if (n.role === 'provider' && (typeof n.ws !== 'string' || !/^wss?:\/\//.test(n.ws)))
      fail(`${at}.ws`, `provider needs a ws:// URL, got ${JSON.stringify(n.ws)}`);
    hexField(`${at}.publicKey`, n.publicKey, 32);
    if (n.nextPublicKey !== undefined) hexField(`${at}.nextPublicKey`, n.nextPublicKey, 32);
    if (n.identityKey !== undefined) hexField(`${at}.identityKey`, n.identityKey, 32);
    if (n.postOffice !== undefined && (n.postOffice !== true || n.role !== 'provider'))
      fail(`${at}.postOffice`, `must be true on a provider or absent, got ${JSON.stringify(n.postOffice)}`);
  });
  for (let layer = 0; layer <= body.layers; layer++) {
    if (!body.nodes.some((n) => n.layer === layer)) fail('nodes', `layer ${layer} has no node`);
  }
}

/** Freezes a verified document and everything in it (a verified document is never changed). */
export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
