/**
 * Persistence of the replay filter (docs/pipeline.md "Replay filter"): per key epoch, a snapshot of the
 * Bloom filter's bit array plus an append-only log of the tags added since, so a node killed at any moment
 * restarts with every tag it had accepted (a packet seen before the restart is still a replay after it).
 *
 * Files in the node's state directory, per epoch E:
 *   replay-E.snap        header (magic, version, epoch, bits, hashes, inserted, log generation G, SHA-256
 *                        of the bit array) + the bit array; written to a temporary file, fsync'd, renamed
 *   replay-E-G.log       16-byte tags appended (one write per crypto batch) after the snapshot of
 *                        generation G was started; later generations are newer
 * Restore = snapshot (if any) + every log of generation ≥ its G, in order. The log is written with write(2)
 * before the batch's packets are forwarded, so it survives a process crash (the page cache is the kernel's);
 * `fsyncIntervalMs` bounds what a power loss can take. A torn last record (a crash inside write) is ignored.
 *
 * A failed append (disk full, I/O error) throws ReplayLogError from `flush`: the caller drops the batch's
 * fresh packets (`replay_log_error`, fail closed — a tag that is not durable must not let its packet
 * leave, or a crash would make that packet replayable). The failed log file is closed where it is (its torn
 * last record is ignored on restore, as after a crash) and the next flush opens a new generation, so
 * forwarding resumes by itself as soon as the disk accepts writes again. File writes go through a small
 * interface (`ReplayFs`) so tests can inject errors.
 *
 * A snapshot is taken every `snapshotIntervalS` and at shutdown: a new log generation starts first, then the
 * bit array is written. The Bloom filter only ever sets bits, so a snapshot that also contains some bits of
 * the new generation is still correct; once it is renamed into place, older logs are deleted.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fdatasync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { LoopixError, ReplayStoreError } from '../errors.js';
import { FORMAT, REPLAY_FILTER_TAG_BYTES } from '../geometry.js';
import { BloomFilter, type BloomSize } from './bloom.js';

const MAGIC = 0x4258_4c52; // "RLXB" little-endian
const VERSION = 1;
/** magic, version, epoch, bits (2 words), hashes, inserted (2 words), generation, reserved, sha256 (8 words). */
const HEADER_BYTES = 10 * 4 + FORMAT.sha256Bytes;
/** Bytes of the filter copied, hashed and written at a time by a snapshot. */
const SNAPSHOT_CHUNK_BYTES = 1 << 18;
export const TAG_BYTES = REPLAY_FILTER_TAG_BYTES;

export { ReplayStoreError };

/** An append to the replay log failed: the staged tags are not durable (code ERR_LOOPIX_REPLAY_LOG_WRITE). */
export class ReplayLogError extends LoopixError {
  constructor(message: string, field: string) {
    super('ERR_LOOPIX_REPLAY_LOG_WRITE', message, { field });
    this.name = 'ReplayLogError';
  }
}

/** The file operations of the log's append path (node:fs by default; tests inject failures). */
export interface ReplayFs {
  openSync(path: string, flags: string, mode: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  closeSync(fd: number): void;
}

const nodeFs: ReplayFs = { openSync, writeSync, closeSync };

interface EpochFiles {
  generation: number;
  /** -1: the last append failed; the next flush opens a new generation first. */
  fd: number;
  /** Tags staged in this event-loop turn, written by flush(). */
  staged: Uint8Array;
  stagedBytes: number;
}

export interface RestoredFilter {
  readonly filter: BloomFilter;
  /** Tags replayed from logs on top of the snapshot. */
  readonly logTags: number;
  readonly fromSnapshot: boolean;
}

export class ReplayStore {
  private readonly open = new Map<number, EpochFiles>();
  private syncTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly dir: string,
    fsyncIntervalMs = 1000,
    private readonly fs: ReplayFs = nodeFs,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (fsyncIntervalMs > 0) {
      this.syncTimer = setInterval(() => this.syncLogs(), fsyncIntervalMs);
      this.syncTimer.unref();
    }
  }

  /** Epochs that have state on disk. */
  epochsOnDisk(): number[] {
    const epochs = new Set<number>();
    for (const f of readdirSync(this.dir)) {
      const m = /^replay-(\d+)(?:\.snap|-\d+\.log)$/.exec(f);
      if (m) epochs.add(Number(m[1]));
    }
    return [...epochs].sort((a, b) => a - b);
  }

  /**
   * Loads `epoch`'s filter (snapshot + logs), or a fresh one when nothing is on disk, and opens a new log
   * generation for it. A snapshot of a different size than `size` (the configuration changed) is refused:
   * silently starting empty would forget tags while the key is still valid.
   */
  load(epoch: number, size: BloomSize): RestoredFilter {
    const snapFile = join(this.dir, `replay-${epoch}.snap`);
    let filter = new BloomFilter(size);
    let fromGeneration = 0;
    let fromSnapshot = false;
    if (existsSync(snapFile)) {
      const bytes = readFileSync(snapFile);
      const h = parseHeader(bytes, snapFile);
      if (h.epoch !== epoch)
        throw new ReplayStoreError(`${snapFile}: holds epoch ${h.epoch}, expected ${epoch}`, { field: snapFile });
      if (h.bits !== size.bits || h.hashes !== size.hashes) {
        throw new ReplayStoreError(
          `${snapFile}: filter of ${h.bits} bits × ${h.hashes} hashes, but the configuration asks for ${size.bits} × ${size.hashes}; ` +
            'keep replay.maxRatePps (or the measured rate in replay-rate.json) and falsePositiveRate unchanged until this key epoch ends (or move the file away knowingly)',
          { code: 'ERR_LOOPIX_REPLAY_STATE_MISMATCH', field: snapFile },
        );
      }
      const body = bytes.subarray(HEADER_BYTES);
      if (body.length !== size.bits / 8)
        throw new ReplayStoreError(`${snapFile}: truncated (${body.length} of ${size.bits / 8} bytes)`, {
          field: snapFile,
        });
      if (!createHash('sha256').update(body).digest().equals(h.sha256))
        throw new ReplayStoreError(`${snapFile}: checksum mismatch (corrupt snapshot)`, { field: snapFile });
      const words = new Uint32Array(size.bits / 32);
      new Uint8Array(words.buffer).set(body);
      filter = new BloomFilter(size, words);
      filter.inserted = h.inserted;
      fromGeneration = h.generation;
      fromSnapshot = true;
    }
    let logTags = 0;
    const logs = this.logsOf(epoch);
    for (const g of logs) {
      const file = this.logFile(epoch, g);
      if (g < fromGeneration) {
        rmSync(file, { force: true }); // covered by the snapshot
        continue;
      }
      const bytes = readFileSync(file);
      const whole = bytes.length - (bytes.length % TAG_BYTES);
      for (let o = 0; o < whole; o += TAG_BYTES) {
        filter.addAt(bytes, o);
        logTags++;
      }
    }
    const generation = Math.max(fromGeneration, ...logs, 0) + 1;
    this.openLog(epoch, generation);
    return { filter, logTags, fromSnapshot };
  }

  /** Stages a tag (16 bytes at bytes[offset..]) for `epoch`'s log. */
  stage(epoch: number, bytes: Uint8Array, offset: number): void {
    const f = this.open.get(epoch);
    if (!f) return;
    if (f.stagedBytes + TAG_BYTES > f.staged.length) {
      const bigger = new Uint8Array(f.staged.length * 2);
      bigger.set(f.staged.subarray(0, f.stagedBytes));
      f.staged = bigger;
    }
    f.staged.set(bytes.subarray(offset, offset + TAG_BYTES), f.stagedBytes);
    f.stagedBytes += TAG_BYTES;
  }

  /**
   * Writes every staged tag (one write(2) per epoch); call before the batch's packets leave. Throws
   * ReplayLogError when any append failed (every epoch is still attempted; staged tags are discarded either
   * way — their packets are dropped by the caller).
   */
  flush(): void {
    let failure: { message: string; file: string } | undefined;
    for (const [epoch, f] of this.open) {
      if (f.stagedBytes === 0) continue;
      try {
        if (f.fd < 0) this.reopen(epoch, f);
        let off = 0;
        while (off < f.stagedBytes) off += this.fs.writeSync(f.fd, f.staged, off, f.stagedBytes - off);
      } catch (err) {
        failure ??= {
          message: `replay log of epoch ${epoch}: ${(err as Error).message}`,
          file: this.logFile(epoch, f.generation),
        };
        if (f.fd >= 0) {
          try {
            this.fs.closeSync(f.fd);
          } catch {
            // the descriptor is gone either way
          }
        }
        f.fd = -1;
      } finally {
        f.stagedBytes = 0;
      }
    }
    if (failure !== undefined) throw new ReplayLogError(failure.message, failure.file);
  }

  /** Opens the next log generation of an epoch whose last append failed. */
  private reopen(epoch: number, f: EpochFiles): void {
    const generation = Math.max(f.generation, ...this.logsOf(epoch)) + 1;
    f.fd = this.fs.openSync(this.logFile(epoch, generation), 'a', 0o600);
    f.generation = generation;
  }

  /**
   * Snapshot of `filter` for `epoch`: starts a new log generation, writes the bit array to a temporary file,
   * fsyncs and renames it, then deletes the logs the snapshot covers.
   */
  async snapshot(epoch: number, filter: BloomFilter): Promise<void> {
    const f = this.open.get(epoch);
    if (!f) return;
    this.flush();
    const generation = f.generation + 1;
    const inserted = filter.inserted;
    this.openLog(epoch, generation); // closes the previous generation's descriptor
    const body = new Uint8Array(filter.words.buffer, filter.words.byteOffset, filter.words.byteLength);
    // Copied and hashed chunk by chunk, so the checksum matches exactly what is written without a copy of the
    // whole filter (tens of MB of fresh memory per snapshot). Bits set while this runs may or may not be in
    // the file: either is correct, since bits are only ever set and the new log generation has them anyway.
    const chunk = new Uint8Array(Math.min(SNAPSHOT_CHUNK_BYTES, body.length));
    const hash = createHash('sha256');
    const tmp = join(this.dir, `replay-${epoch}.snap.tmp`);
    const handle = await open(tmp, 'w', 0o600);
    try {
      for (let offset = 0; offset < body.length; offset += chunk.length) {
        const part = chunk.subarray(0, Math.min(chunk.length, body.length - offset));
        part.set(body.subarray(offset, offset + part.length));
        hash.update(part);
        await handle.write(part, 0, part.length, HEADER_BYTES + offset);
      }
      // The header (with the checksum) last, at the start of the file; the rename below publishes the whole.
      const header = makeHeader(epoch, filter, inserted, generation, hash.digest());
      await handle.write(header, 0, header.length, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    renameSync(tmp, join(this.dir, `replay-${epoch}.snap`));
    syncDir(this.dir);
    for (const g of this.logsOf(epoch)) if (g < generation) rmSync(this.logFile(epoch, g), { force: true });
  }

  /** Deletes `epoch`'s files (its key was retired: its tags can never matter again). */
  forget(epoch: number): void {
    const f = this.open.get(epoch);
    if (f && f.fd >= 0) closeSync(f.fd);
    this.open.delete(epoch);
    for (const file of readdirSync(this.dir))
      if (file.startsWith(`replay-${epoch}.`) || file.startsWith(`replay-${epoch}-`))
        rmSync(join(this.dir, file), { force: true });
  }

  close(): void {
    this.flush();
    if (this.syncTimer) clearInterval(this.syncTimer);
    for (const f of this.open.values()) {
      if (f.fd < 0) continue;
      try {
        fsyncSync(f.fd);
      } catch {
        // best effort at shutdown
      }
      closeSync(f.fd);
    }
    this.open.clear();
  }

  private syncLogs(): void {
    for (const f of this.open.values()) if (f.fd >= 0) fdatasync(f.fd, () => undefined);
  }

  private openLog(epoch: number, generation: number): void {
    const previous = this.open.get(epoch);
    const fd = this.fs.openSync(this.logFile(epoch, generation), 'a', 0o600);
    this.open.set(epoch, {
      generation,
      fd,
      staged: previous?.staged ?? new Uint8Array(64 * TAG_BYTES),
      stagedBytes: 0,
    });
    if (previous && previous.fd >= 0) this.fs.closeSync(previous.fd);
  }

  private logFile(epoch: number, generation: number): string {
    return join(this.dir, `replay-${epoch}-${generation}.log`);
  }

  private logsOf(epoch: number): number[] {
    const out: number[] = [];
    for (const f of readdirSync(this.dir)) {
      const m = /^replay-(\d+)-(\d+)\.log$/.exec(f);
      if (m && Number(m[1]) === epoch) out.push(Number(m[2]));
    }
    return out.sort((a, b) => a - b);
  }
}

function makeHeader(
  epoch: number,
  filter: BloomFilter,
  inserted: number,
  generation: number,
  sha256: Buffer,
): Uint8Array {
  const b = Buffer.alloc(HEADER_BYTES);
  b.writeUInt32LE(MAGIC, 0);
  b.writeUInt32LE(VERSION, 4);
  b.writeUInt32LE(epoch, 8);
  b.writeUInt32LE(filter.bits % 2 ** 32, 12);
  b.writeUInt32LE(Math.floor(filter.bits / 2 ** 32), 16);
  b.writeUInt32LE(filter.hashes, 20);
  b.writeUInt32LE(inserted % 2 ** 32, 24);
  b.writeUInt32LE(Math.floor(inserted / 2 ** 32), 28);
  b.writeUInt32LE(generation, 32);
  sha256.copy(b, 40);
  return b;
}

function parseHeader(b: Buffer, file: string) {
  if (b.length < HEADER_BYTES || b.readUInt32LE(0) !== MAGIC)
    throw new ReplayStoreError(`${file}: not a replay-filter snapshot`, { field: file });
  if (b.readUInt32LE(4) !== VERSION)
    throw new ReplayStoreError(`${file}: snapshot version ${b.readUInt32LE(4)}, expected ${VERSION}`, { field: file });
  return {
    epoch: b.readUInt32LE(8),
    bits: b.readUInt32LE(12) + b.readUInt32LE(16) * 2 ** 32,
    hashes: b.readUInt32LE(20),
    inserted: b.readUInt32LE(24) + b.readUInt32LE(28) * 2 ** 32,
    generation: b.readUInt32LE(32),
    sha256: b.subarray(40, 72),
  };
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every filesystem lets a directory be fsync'd; the rename is still atomic.
  }
}
