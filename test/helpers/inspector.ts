/**
 * A minimal Chrome DevTools Protocol client for a child Node process started with `--inspect=127.0.0.1:0`:
 * heap snapshots of its main thread and of each of its worker threads (NodeWorker domain), as the parsed
 * snapshot's string table. Tests use it to look for secrets a process still holds as strings.
 */
import WebSocket from 'ws';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** The inspector URL a child prints on stderr ("Debugger listening on ws://…"), or undefined. */
export function inspectorUrl(stderr: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
}

export class Inspector {
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  /** Snapshot chunks per session ('' = main thread). */
  private readonly chunks = new Map<string, string[]>();
  private readonly workerSessions: string[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.onMessage('', JSON.parse(data.toString('utf8')) as Message));
  }

  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Inspector(ws);
  }

  /** Attaches to every worker thread of the process; returns their session ids. */
  async attachWorkers(expected: number, timeoutMs = 5000): Promise<readonly string[]> {
    await this.send('NodeWorker.enable', { waitForDebuggerOnStart: false });
    const until = Date.now() + timeoutMs;
    while (this.workerSessions.length < expected && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return [...this.workerSessions];
  }

  /** The string table of a heap snapshot of the main thread (`session` undefined) or of a worker. */
  async heapStrings(session?: string): Promise<string[]> {
    const key = session ?? '';
    this.chunks.set(key, []);
    await this.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false }, session);
    const json = this.chunks.get(key)!.join('');
    this.chunks.delete(key);
    return (JSON.parse(json) as { strings: string[] }).strings;
  }

  close(): void {
    this.ws.close();
  }

  private send(method: string, params: object, session?: string): Promise<unknown> {
    const id = this.nextId++;
    const message = JSON.stringify({ id, method, params });
    const done = new Promise<unknown>((resolve, reject) =>
      this.pending.set(`${session ?? ''}:${id}`, { resolve, reject }),
    );
    if (session === undefined) this.ws.send(message);
    else {
      // The outer call's own reply only says the message was handed over; the worker's reply arrives as an event.
      const outer = this.nextId++;
      this.pending.set(`:${outer}`, {
        resolve: () => undefined,
        reject: (e) => this.pending.get(`${session}:${id}`)?.reject(e),
      });
      this.ws.send(
        JSON.stringify({
          id: outer,
          method: 'NodeWorker.sendMessageToWorker',
          params: { sessionId: session, message },
        }),
      );
    }
    return done;
  }

  private onMessage(session: string, m: Message): void {
    if (m.id !== undefined) {
      const p = this.pending.get(`${session}:${m.id}`);
      this.pending.delete(`${session}:${m.id}`);
      if (m.error) p?.reject(new Error(`${m.error.message} (${session || 'main'})`));
      else p?.resolve(m.result);
      return;
    }
    if (m.method === 'HeapProfiler.addHeapSnapshotChunk')
      this.chunks.get(session)?.push((m.params as { chunk: string }).chunk);
    else if (m.method === 'NodeWorker.attachedToWorker')
      this.workerSessions.push((m.params as { sessionId: string }).sessionId);
    else if (m.method === 'NodeWorker.receivedMessageFromWorker') {
      const p = m.params as { sessionId: string; message: string };
      this.onMessage(p.sessionId, JSON.parse(p.message) as Message);
    }
  }
}

interface Message {
  id?: number;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { message: string };
}
