/**
 * `loopix init mix|provider|client`: a new node's or client's directory with fresh keys and a commented
 * config that validates as it is (JSON with `//` comments; src/config/schema.ts reads it), and the
 * node's entry for the topology document, printed for the directory authority.
 *
 * Files (in --dir, default the current directory): `<role>.key.json` (mode 0600) and `<role>.json`. Existing
 * files are never overwritten unless --force (ERR_LOOPIX_INIT_EXISTS).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { LoopixError } from '../errors.js';
import { DEFAULT_GEOMETRY } from '../geometry.js';
import { loadSphinx } from '../sphinx/loader.js';
import { epochRange } from './keygen.js';
import { freshKeyPairHex } from '../node/fresh-key.js';

export type InitRole = 'mix' | 'provider' | 'client';

export interface InitOptions {
  readonly role: InitRole;
  readonly dir: string;
  readonly name?: string;
  /** Address other nodes reach this node at (topology `udp.host`), and the UDP port. */
  readonly host: string;
  readonly port: number;
  /** Providers: client WebSocket port. */
  readonly wsPort: number;
  /** Mixes: layer 1..L. */
  readonly layer: number;
  readonly authorityKey?: string;
  /** Clients: their provider's id. */
  readonly providerId?: string;
  /** A key store with one key per epoch A..B; absent: one key (a network whose keys do not rotate). */
  readonly epochs?: { first: number; last: number };
  readonly metricsPort: number;
  readonly force: boolean;
}

export interface InitResult {
  readonly config: string;
  readonly keyFile: string;
  /** Nodes: the entry to add to the topology body (keys by epoch when --epochs). */
  readonly topologyEntry?: Record<string, unknown>;
  readonly publicKeys: Record<string, string>;
}

const PLACEHOLDER_AUTHORITY = '0'.repeat(64);

function freshKey(): { publicKey: string; privateKey: string } {
  const { backend } = loadSphinx();
  return freshKeyPairHex((sk) => backend.x25519Base(sk));
}

const hex32 =
  (what: string) =>
  (v: string): string => {
    if (!/^[0-9a-f]{64}$/.test(v))
      throw new InvalidArgumentError(`${what} must be 32 bytes of lowercase hex, got ${JSON.stringify(v)}`);
    return v;
  };

export function runInit(o: InitOptions): InitResult {
  const dir = resolve(o.dir);
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, `${o.role}.key.json`);
  const config = join(dir, `${o.role}.json`);
  for (const f of [keyFile, config]) {
    if (existsSync(f) && !o.force)
      throw new LoopixError(
        'ERR_LOOPIX_INIT_EXISTS',
        `${f} exists; pass --force to overwrite it (its keys would be lost)`,
        { field: f },
      );
  }

  // 1. Keys: one key pair, or one per epoch (src/node/keys.ts formats; clients always have one key).
  const publicKeys: Record<string, string> = {};
  let keyJson: unknown;
  if (o.epochs && o.role !== 'client') {
    const keys = [];
    for (let e = o.epochs.first; e <= o.epochs.last; e++) {
      const k = freshKey();
      publicKeys[String(e)] = k.publicKey;
      keys.push({ epoch: e, ...k });
    }
    keyJson = { type: 'x25519-epochs', keys };
  } else {
    const k = freshKey();
    publicKeys.static = k.publicKey;
    keyJson = { type: 'x25519', ...k };
  }
  writeFileSync(keyFile, `${JSON.stringify(keyJson, null, 2)}\n`, { mode: 0o600 });

  // 2. The config, with comments (every other field has a default: src/config/schema.ts).
  const authority = o.authorityKey ?? PLACEHOLDER_AUTHORITY;
  const authorityComment = o.authorityKey
    ? "// The directory authority's Ed25519 public key: the topology must verify against it."
    : "// REPLACE with the directory authority's public key (`loopix authority keygen` prints it).";
  const id = randomBytes(DEFAULT_GEOMETRY.addressBytes).toString('hex');
  const name = o.name ?? `${o.role}-${id.slice(0, 6)}`;
  let text: string;
  if (o.role === 'client') {
    const provider = o.providerId ?? '0'.repeat(DEFAULT_GEOMETRY.addressBytes * 2);
    text = `// loopix client config (docs/operations.md "Clients"). Every field not listed has a default.
{
  // This client's X25519 key pair; its public key is the client's identity. Keep it private.
  "keyFile": "${o.role}.key.json",
  ${o.providerId ? "// Id of this client's provider in the topology." : '// REPLACE with the id of your provider in the topology.'}
  "providerId": "${provider}",
  // The signed topology document (fetched from the directory).
  "topologyFile": "topology.json",
  ${authorityComment}
  "authorityPublicKey": "${authority}",
  // Network parameters: must be the network's own (Loopix §3.2 rates per second; mu: per-hop delay 1/s).
  "params": { "lambdaP": 1, "lambdaL": 1, "lambdaD": 1, "mu": 2 },
  "log": { "level": "info" }
}
`;
  } else {
    const provider = o.role === 'provider';
    text = `// loopix ${o.role} config (docs/operations.md). Every field not listed has a default (src/config/schema.ts).
{
  // This node's id in the topology (random; keep it for the node's life).
  "id": "${id}",
  // X25519 key${o.epochs ? ' store, one key per epoch' : ''} (mode 0600): the private keys never leave this host.
  "keyFile": "${o.role}.key.json",
  // The signed topology document; the node re-reads it every epochs.refreshS seconds.
  "topologyFile": "topology.json",
  ${authorityComment}
  "authorityPublicKey": "${authority}",
  // UDP address to bind (the topology's udp entry is what other nodes send to).
  "listen": { "host": "0.0.0.0", "port": ${o.port} },
  // Network parameters: must match the network's (lambdaM: own loops per second; mu: per-hop delay 1/s).
  "params": { "lambdaM": 1, "mu": 2 },
  // Crypto worker threads (default: one per core beyond the main thread).
  "pipeline": {},
  // Replay filter sizing: "auto" measures this host's unwrap rate once; in production set it from loopix bench relay.
  "replay": { "maxRatePps": "auto" },
${
  provider
    ? `  // Client front end: SQLite inboxes in dataDir, WebSockets on listen (put a TLS proxy in front of it).
  "provider": { "dataDir": "data", "listen": { "host": "0.0.0.0", "port": ${o.wsPort} } },
`
    : ''
}  // Prometheus /metrics and /healthz. Loopback only unless "allowRemote": true.
  "ops": { "listen": { "host": "127.0.0.1", "port": ${o.metricsPort} } },
  // The JSON stats line on stdout every N seconds (0: off; /metrics has the same numbers).
  "statsIntervalS": 0,
  "log": { "level": "info" }
}
`;
  }
  writeFileSync(config, text, { mode: 0o640 });

  const topologyEntry =
    o.role === 'client'
      ? undefined
      : {
          id,
          name,
          role: o.role,
          layer: o.role === 'provider' ? 0 : o.layer,
          udp: { host: o.host, port: o.port },
          ...(o.role === 'provider' ? { ws: `ws://${o.host}:${o.wsPort}` } : {}),
          publicKey: o.epochs ? `<key of the document's epoch: publicKeys[epoch]>` : publicKeys.static,
        };
  return { config, keyFile, ...(topologyEntry ? { topologyEntry } : {}), publicKeys };
}

const port =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      throw new InvalidArgumentError(`${name} must be a port 1..65535, got ${JSON.stringify(v)}`);
    return n;
  };

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description(
      'write a commented, valid config with fresh keys for a mix, a provider or a client (docs/operations.md)',
    )
    .argument('<role>', 'mix, provider or client')
    .option('--dir <dir>', 'directory for the key file and the config', '.')
    .option('--name <name>', 'node name in the topology (default: <role>-<id prefix>)')
    .option('--host <host>', 'the address other nodes reach this node at (topology udp.host)', '127.0.0.1')
    .option('--port <n>', 'UDP port', port('--port'), 7000)
    .option('--ws-port <n>', 'provider: client WebSocket port', port('--ws-port'), 7100)
    .option('--layer <n>', 'mix: its layer 1..L', port('--layer'), 1)
    .option('--metrics-port <n>', 'port of /metrics and /healthz on 127.0.0.1', port('--metrics-port'), 9464)
    .option('--authority-key <hex>', "the directory authority's public key", hex32('--authority-key'))
    .option('--provider-id <hex>', "client: its provider's id")
    .option('--epochs <A..B>', 'nodes: a key store with one key per epoch A..B (rotating keys)', epochRange)
    .option('--force', 'overwrite existing files')
    .action((role: string, o: Omit<InitOptions, 'role' | 'force'> & { force?: boolean }) => {
      if (role !== 'mix' && role !== 'provider' && role !== 'client') {
        throw new LoopixError(
          'ERR_LOOPIX_INIT_ROLE',
          `role must be mix, provider or client, got ${JSON.stringify(role)}`,
          { field: 'role' },
        );
      }
      const r = runInit({ ...o, role, force: o.force === true });
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      process.stderr.write(
        r.topologyEntry
          ? `wrote ${r.config} and ${r.keyFile}; give topologyEntry to the directory authority, then start with: loopix ${role} --config ${r.config}\n`
          : `wrote ${r.config} and ${r.keyFile}\n`,
      );
    });
}
