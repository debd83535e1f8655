/**
 * The start-up clock check (docs/operations.md "Clocks"). A node derives the live key epochs from its own clock
 * and the topology's schedule (src/node/epoch-keys.ts); with a clock off by more than the grace window it would
 * take the live epochs for past or future ones, drop every packet, and — worse — delete the replay filters of
 * the epochs that are really live (src/node/epochs.ts forgets filters of epochs that are not live), so that
 * replays pass once the clock is fixed. Such a node refuses to start and says by how much its clock disagrees.
 *
 * The topology's time: its `issuedAt` (a node's clock cannot be earlier than when the document it reads was
 * signed), and with rotating keys the span its keys cover — from the start of its `epoch` to the end of
 * `epoch + 1` (it publishes those two keys). Outside that span by more than `graceS`, the clock or the
 * document is wrong, and neither is safe to start with.
 */
import { LoopixError } from '../errors.js';
import type { TopologyIndex } from '../topology/document.js';

/** Refuses (ERR_LOOPIX_CLOCK_SKEW) when `nowMs` disagrees with `topology` by more than `graceS` seconds. */
export function checkClock(topology: TopologyIndex, nowMs: number, graceS: number, source: string): void {
  const graceMs = graceS * 1000;
  const doc = topology.doc;
  const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;
  const fail = (message: string): never => {
    throw new LoopixError(
      'ERR_LOOPIX_CLOCK_SKEW',
      `${message}; refusing to start (fix the clock, e.g. with NTP, or fetch a current topology) rather than treat live key epochs as expired and delete their replay filters`,
      { field: 'topologyFile' },
    );
  };
  const issuedAt = Date.parse(doc.issuedAt);
  if (Number.isFinite(issuedAt) && nowMs < issuedAt - graceMs) {
    fail(
      `the clock (${new Date(nowMs).toISOString()}) is ${seconds(issuedAt - nowMs)} behind the topology ${source}, issued at ${doc.issuedAt} (grace ${graceS} s)`,
    );
  }
  if (!topology.rotates) return;
  const from = topology.epochStart(doc.epoch);
  const to = topology.epochStart(doc.epoch + 2);
  if (nowMs < from - graceMs) {
    fail(
      `the clock (${new Date(nowMs).toISOString()}) is ${seconds(from - nowMs)} before epoch ${doc.epoch} of the topology ${source} began (grace ${graceS} s)`,
    );
  }
  if (nowMs > to + graceMs) {
    fail(
      `the clock (${new Date(nowMs).toISOString()}) is ${seconds(nowMs - to)} past the last epoch (${doc.epoch + 1}) the topology ${source} has keys for (grace ${graceS} s)`,
    );
  }
}
