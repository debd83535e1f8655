/**
 * `loopix bench agent --listen HOST:PORT`: runs the relay rig's load generator or sink on another host, so a
 * node is measured without sharing its cores with them (three cloud machines: generator, node, sink;
 * docs/benchmarks.md "On cloud hosts").
 *
 * The rig connects over TCP and speaks the same messages it sends a local child over IPC (src/bench/ipc.ts),
 * framed as a 4-byte big-endian length + a v8-serialized value (typed arrays survive, as with IPC's
 * "advanced" serialization). The first message of a connection is
 *   {type: 'spawn', role: 'sink' | 'load-generator', files: {name: bytes}}
 * The agent writes the files (packet pool, fingerprints) to a temporary directory, forks that script and from
 * then on relays messages both ways, with a file name in an `init` message replaced by the local path. The
 * child is killed when the connection closes. The agent trusts whoever connects: run it on a private network.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import { LoopixError } from '../errors.js';
import { benchScript } from './ipc.js';

const MAX_FRAME = 256 << 20;

/** Splits a byte stream into v8-serialized frames. */
function frames(socket: net.Socket, onValue: (v: unknown) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0);
      if (len > MAX_FRAME) {
        socket.destroy(new Error(`frame of ${len} bytes`));
        return;
      }
      if (buf.length < 4 + len) break;
      const body = buf.subarray(4, 4 + len);
      buf = buf.subarray(4 + len);
      onValue(v8.deserialize(body));
    }
  });
}

function writeFrame(socket: net.Socket, value: unknown): void {
  const body = v8.serialize(value);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  socket.write(Buffer.concat([head, body]));
}

export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535))
    throw new LoopixError('ERR_LOOPIX_BENCH_ADDRESS', `${what} must be HOST:PORT, got ${JSON.stringify(value)}`, {
      field: what,
    });
  return { host: m[1]!, port };
}

interface SpawnMessage {
  readonly type: 'spawn';
  readonly role: 'sink' | 'load-generator';
  readonly files: Record<string, Uint8Array>;
}

/** Starts the agent; resolves with its server once it listens. */
export async function startAgent(o: { host: string; port: number; log: (line: string) => void }): Promise<net.Server> {
  const server = net.createServer((socket) => {
    let child: ChildProcess | undefined;
    let dir: string | undefined;
    const local: Record<string, string> = {};
    const cleanup = () => {
      if (child && child.exitCode === null) child.kill();
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    };
    socket.on('close', cleanup);
    socket.on('error', cleanup);
    frames(socket, (v) => {
      const m = v as { type?: string } & Record<string, unknown>;
      if (!child) {
        if (m.type !== 'spawn') {
          writeFrame(socket, { type: 'error', message: 'first message must be spawn' });
          return;
        }
        const s = m as unknown as SpawnMessage;
        if (s.role !== 'sink' && s.role !== 'load-generator') {
          writeFrame(socket, { type: 'error', message: `unknown role ${JSON.stringify(s.role)}` });
          return;
        }
        dir = mkdtempSync(join(tmpdir(), 'loopix-agent-'));
        for (const [name, bytes] of Object.entries(s.files ?? {})) {
          const file = join(dir, name.replace(/[^A-Za-z0-9._-]/g, '_'));
          writeFileSync(file, bytes);
          local[name] = file;
        }
        const c = fork(benchScript(s.role), [], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          serialization: 'advanced',
        });
        child = c;
        c.on('message', (reply) => writeFrame(socket, reply));
        c.once('exit', (code) => {
          writeFrame(socket, { type: 'exit', code });
          socket.end();
        });
        o.log(`agent: ${s.role} for ${socket.remoteAddress}:${socket.remotePort}`);
        writeFrame(socket, { type: 'spawned' });
        return;
      }
      // Paths in an init message name files sent with spawn.
      const out: Record<string, unknown> = { ...m };
      for (const k of ['poolFile', 'fingerprintFile'])
        if (typeof out[k] === 'string' && local[out[k]]) out[k] = local[out[k]];
      child.send(out);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return server;
}

/**
 * The rig's side: a rig child that lives on an agent. It looks like a forked child to src/bench/ipc.ts
 * (`send`, 'message' and 'exit' events).
 */
export class RemoteChild extends EventEmitter {
  exitCode: number | null = null;
  private constructor(private readonly socket: net.Socket) {
    super();
    frames(socket, (v) => {
      const m = v as { type?: string; code?: number };
      if (m?.type === 'exit') {
        this.exitCode = m.code ?? 0;
        this.emit('exit', this.exitCode);
      } else this.emit('message', m);
    });
    socket.on('close', () => {
      if (this.exitCode === null) {
        this.exitCode = -1;
        this.emit('exit', -1);
      }
    });
    socket.on('error', () => undefined);
  }

  static async connect(
    address: { host: string; port: number },
    role: SpawnMessage['role'],
    files: Record<string, Uint8Array>,
  ): Promise<RemoteChild> {
    const socket = net.connect(address.port, address.host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', (err) =>
        reject(
          new LoopixError(
            'ERR_LOOPIX_BENCH_AGENT',
            `cannot reach the bench agent at ${address.host}:${address.port}: ${err.message}`,
          ),
        ),
      );
    });
    const child = new RemoteChild(socket);
    let onMessage: ((m: { type?: string; message?: string }) => void) | undefined;
    const spawned = new Promise<void>((resolve, reject) => {
      onMessage = (m) => {
        if (m.type === 'spawned') resolve();
        else if (m.type === 'error')
          reject(
            new LoopixError('ERR_LOOPIX_BENCH_AGENT', `bench agent ${address.host}:${address.port}: ${m.message}`),
          );
      };
      child.on('message', onMessage);
      child.once('exit', () =>
        reject(
          new LoopixError(
            'ERR_LOOPIX_BENCH_AGENT',
            `bench agent ${address.host}:${address.port} closed the connection`,
          ),
        ),
      );
    });
    writeFrame(socket, { type: 'spawn', role, files } satisfies SpawnMessage);
    try {
      await spawned;
    } finally {
      child.off('message', onMessage!);
    }
    return child;
  }

  send(msg: unknown): boolean {
    writeFrame(this.socket, msg);
    return true;
  }

  kill(): void {
    this.socket.destroy();
  }
}
