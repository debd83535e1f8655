/**
 * The config parser target: parseConfig (src/config/schema.ts) on mutated node (mix and provider) and client
 * configs, and on damaged JSON text as `loadConfigFile` would read it; and the node key-file parser
 * (src/node/keys.ts: a single key pair or a per-epoch key store).
 *
 * Crashes: any exception but a LoopixError ERR_LOOPIX_CONFIG_INVALID / ERR_LOOPIX_KEYFILE_* (and, for text,
 * the JSON SyntaxError loadConfigFile turns into ERR_LOOPIX_CONFIG_NOT_JSON); an accepted config that is not deeply frozen, or that does not parse again to the same value
 * (defaults are applied once, the output is a fixed point); an accepted provider section whose abuse limits
 * do not resolve to usable numbers (src/provider/limits.ts).
 */
import { ClientConfigSchema, NodeConfigSchema, parseConfig } from '../config/schema.js';
import { isLoopixError } from '../errors.js';
import { parseNodeKeyFile } from '../node/keys.js';
import { checkLimits, resolveLimits } from '../provider/limits.js';
import type { FuzzTarget } from './harness.js';
import { mutateJson, randomJson } from './json-mutate.js';
import { mutateBytes, type Rng } from './rng.js';

export interface ConfigInput {
  readonly schema: 'node' | 'client' | 'keys';
  /** A JSON value (the parsed file) … */
  readonly value?: unknown;
  /** … or the file's text. */
  readonly text?: string;
}

const HEX32 = 'ab'.repeat(32);
const PARAMS = {
  lambdaP: 1,
  lambdaL: 1,
  lambdaD: 1,
  lambdaM: 1,
  mu: 2,
  pullK: 8,
  pullIntervalMs: 1000,
  loopWindowS: 30,
  loopAlarmFraction: 0.7,
  loopAlarmRateFactor: 2,
  maxMessageBytes: 65536,
};

/** Valid configs that between them use every field. */
export const CONFIG_BASES: readonly ConfigInput[] = [
  {
    schema: 'node',
    value: {
      id: '00112233445566778899aabbccddeeff',
      keyFile: 'mix.key.json',
      topologyFile: 'topology.json',
      authorityPublicKey: HEX32,
      listen: { host: '127.0.0.1', port: 4000 },
      params: PARAMS,
      pipeline: {
        workers: 2,
        batchSize: 64,
        batchWaitMs: 1,
        socketBufferBytes: 8388608,
        aqm: { targetDelayMs: 10, intervalMs: 15, kp: 1.25, ki: 8, kd: 0, hardCapPackets: 50000 },
      },
      epochs: { graceS: 120, refreshS: 5 },
      replay: {
        maxRatePps: 1000,
        falsePositiveRate: 1e-6,
        staticWindowS: 3600,
        persist: true,
        snapshotIntervalS: 60,
        fsyncIntervalMs: 1000,
        unsafeResetWhenFull: false,
      },
      statsIntervalS: 1,
      log: { level: 'info' },
    },
  },
  {
    schema: 'node',
    value: {
      id: 'ffeeddccbbaa99887766554433221100',
      keyFile: 'p.key.json',
      topologyFile: 'topology.json',
      authorityPublicKey: HEX32,
      params: { lambdaP: 5, pullIntervalMs: 200 },
      provider: {
        listen: { host: '127.0.0.1', port: 0 },
        dataDir: 'data',
        registration: 'closed',
        clients: [HEX32, 'cd'.repeat(32)],
        maxFrameBytes: 65536,
        authTimeoutMs: 5000,
        limits: {
          submitRateFactor: 2,
          submitBurstS: 10,
          pullRateFactor: 2,
          pullBurst: 4,
          maxConnectionsPerAddress: 64,
        },
      },
    },
  },
  {
    schema: 'node',
    value: { id: 'aa', keyFile: 'k', topologyFile: 't', authorityPublicKey: HEX32, provider: { dataDir: 'd' } },
  },
  { schema: 'keys', value: { type: 'x25519', publicKey: HEX32, privateKey: 'cd'.repeat(32) } },
  {
    schema: 'keys',
    value: {
      type: 'x25519-epochs',
      keys: [
        { epoch: 7, publicKey: HEX32, privateKey: 'cd'.repeat(32) },
        { epoch: 8, publicKey: 'ef'.repeat(32), privateKey: '01'.repeat(32) },
      ],
    },
  },
  {
    schema: 'client',
    value: {
      keyFile: 'c.key.json',
      providerId: 'ffeeddccbbaa99887766554433221100',
      topologyFile: 't.json',
      authorityPublicKey: HEX32,
      params: PARAMS,
      log: { level: 'warn' },
    },
  },
];

/** Every object in `v` (recursively) is frozen. */
function deeplyFrozen(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return true;
  return Object.isFrozen(v) && Object.values(v).every(deeplyFrozen);
}

export function configTarget(extraBases: readonly ConfigInput[] = []): FuzzTarget<ConfigInput> {
  const bases = [...CONFIG_BASES, ...extraBases.filter((b) => b.value !== undefined)];

  function generate(r: Rng): ConfigInput {
    const base = r.pick(bases);
    const roll = r.int(20);
    if (roll === 0) return { schema: base.schema, value: randomJson(r, 3) };
    if (roll <= 2) {
      const text = Buffer.from(mutateBytes(r, Buffer.from(JSON.stringify(mutateJson(r, base.value))))).toString(
        'latin1',
      );
      return { schema: base.schema, text };
    }
    return { schema: base.schema, value: mutateJson(r, base.value) };
  }

  /** The key-file parser: only ERR_LOOPIX_KEYFILE_* errors may escape; an accepted store is sorted, unique, 32-byte keys. */
  function checkKeys(value: unknown): string {
    let parsed;
    try {
      parsed = parseNodeKeyFile(value, 'fuzz');
    } catch (err) {
      if (!isLoopixError(err) || !err.code.startsWith('ERR_LOOPIX_KEYFILE_')) throw err;
      return 'error:keys';
    }
    const keys = parsed.kind === 'single' ? [{ epoch: -1, ...parsed.key }] : parsed.keys;
    keys.forEach((k, i) => {
      if (k.publicKey.length !== 32 || k.privateKey.length !== 32)
        throw new Error('accepted a key that is not 32 bytes');
      if (i > 0 && !(k.epoch > keys[i - 1]!.epoch)) throw new Error('accepted key store is not sorted by unique epoch');
    });
    return `ok:keys:${parsed.kind}`;
  }

  function check(input: ConfigInput): string {
    if (input.schema === 'keys') {
      if (input.text === undefined) return checkKeys(input.value);
      try {
        return checkKeys(JSON.parse(input.text));
      } catch (err) {
        if (err instanceof SyntaxError) return 'error:not-json';
        throw err;
      }
    }
    const schema = input.schema === 'client' ? ClientConfigSchema : NodeConfigSchema;
    let value: unknown = input.value;
    if (input.text !== undefined) {
      try {
        value = JSON.parse(input.text);
      } catch (err) {
        if (err instanceof SyntaxError) return 'error:not-json'; // loadConfigFile: ERR_LOOPIX_CONFIG_NOT_JSON
        throw err;
      }
    }
    let parsed: unknown;
    try {
      parsed = parseConfig(schema, value, 'fuzz');
    } catch (err) {
      if (!isLoopixError(err, 'ERR_LOOPIX_CONFIG_INVALID')) throw err;
      return `error:${err.field ?? '?'}`;
    }
    if (!deeplyFrozen(parsed)) throw new Error('accepted config is not deeply frozen');
    const again = parseConfig(schema, JSON.parse(JSON.stringify(parsed)), 'fuzz-again');
    if (JSON.stringify(again) !== JSON.stringify(parsed))
      throw new Error(`not a fixed point: ${JSON.stringify(parsed)} → ${JSON.stringify(again)}`);
    const node = parsed as {
      provider?: { limits: Parameters<typeof resolveLimits>[0] };
      params: Parameters<typeof resolveLimits>[1];
    };
    if (input.schema === 'node' && node.provider) checkLimits(resolveLimits(node.provider.limits, node.params));
    return `ok:${input.schema}${node.provider ? ':provider' : ''}`;
  }

  return {
    name: 'config-parser',
    share: 0.1,
    generate,
    check,
    toJson: (i) => i,
    fromJson: (j) => {
      const o = j as Partial<ConfigInput>;
      if (!o || (o.schema !== 'node' && o.schema !== 'client' && o.schema !== 'keys'))
        throw new TypeError('schema must be "node", "client" or "keys"');
      if (o.text !== undefined && typeof o.text !== 'string') throw new TypeError('text must be a string');
      return o.text !== undefined ? { schema: o.schema, text: o.text } : { schema: o.schema, value: o.value };
    },
  };
}
