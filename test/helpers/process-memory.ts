/**
 * Reads every readable mapping of a (child) process's address space through /proc/<pid>/mem (Linux; the
 * reader must be allowed to ptrace the process: its parent is). All threads of a process share one address
 * space, so this sees the main thread, every worker thread, the native addon's and OpenSSL's heaps, and
 * memory that was freed but not yet reused — every copy a core dump or a memory-reading attacker would get.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

/** Offsets (mapping start + offset) of every occurrence of any needle in `pid`'s memory, per needle label. */
export function findInProcessMemory(
  pid: number,
  needles: Readonly<Record<string, Uint8Array>>,
): Record<string, number[]> {
  const found: Record<string, number[]> = Object.fromEntries(Object.keys(needles).map((k) => [k, []]));
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n');
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  const CHUNK = 8 << 20;
  const PAGE = 4096;
  const longest = Math.max(...Object.values(needles).map((n) => n.length));
  const buf = Buffer.alloc(CHUNK + longest);
  try {
    for (const line of maps) {
      const [range, perms, , , , path] = line.split(/\s+/);
      if (!perms?.startsWith('r') || path === '[vvar]' || path === '[vsyscall]') continue;
      const [lo, hi] = range!.split('-').map((h) => parseInt(h, 16)) as [number, number];
      let carry = 0;
      for (let at = lo; at < hi;) {
        let n: number;
        try {
          n = readSync(fd, buf, carry, Math.min(CHUNK, hi - at), at);
        } catch {
          n = 0;
        }
        if (n === 0) {
          // An unreadable page (guard page, or the mapping went away): skip it, the rest may still be readable.
          at = (Math.floor(at / PAGE) + 1) * PAGE;
          carry = 0;
          continue;
        }
        const view = buf.subarray(0, carry + n);
        for (const [label, needle] of Object.entries(needles)) {
          for (let i = view.indexOf(needle); i >= 0; i = view.indexOf(needle, i + 1))
            found[label]!.push(at - carry + i);
        }
        at += n;
        // Keep the tail so a needle straddling two reads is still seen (a shorter needle inside it is not
        // reported twice: the tail is shorter than the longest needle... and duplicates would only repeat a hit).
        const keep = Math.min(longest - 1, view.length);
        view.copy(buf, 0, view.length - keep);
        carry = keep;
      }
    }
  } finally {
    closeSync(fd);
  }
  return found;
}

/** The /proc/<pid>/maps line of the mapping that holds `address` (for failure messages). */
export function mappingOf(pid: number, address: number): string {
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n')) {
    const [lo, hi] = line
      .split(/\s+/)[0]!
      .split('-')
      .map((h) => parseInt(h, 16)) as [number, number];
    if (address >= lo && address < hi) return `${line.trim()} (+0x${(address - lo).toString(16)})`;
  }
  return 'unmapped';
}
