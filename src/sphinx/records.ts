/**
 * Batch-unwrap result records (docs/packet-format.md §9): a fixed-size, little-endian encoding of an
 * UnwrapResult, so a worker can return a batch of results in one transferable buffer and the native addon
 * needs no JS objects on its hot path.
 */
import { RECORD, type Geometry } from '../geometry.js';
import { INVALID_REASONS, ResultKind, type InvalidReason, type UnwrapResult } from './types.js';

const KIND_NAMES = ['invalid', 'relay', 'deliver', 'drop', 'final', 'loop', 'surbReply'] as const;

/** Offsets inside one record (defined with the other format constants in src/geometry.ts). */
export { RECORD };

/**
 * Decodes the record at `index` into an UnwrapResult. `packet` is that record's packet (already unwrapped in
 * place); final/loop/surbReply results view their content inside it rather than copying.
 */
export function decodeRecord(g: Geometry, records: Uint8Array, index: number, packet: Uint8Array): UnwrapResult {
  const base = index * g.recordBytes;
  const view = new DataView(records.buffer, records.byteOffset + base, g.recordBytes);
  const kind = KIND_NAMES[view.getUint8(RECORD.kind)];
  const address = (): Uint8Array => records.slice(base + RECORD.address, base + RECORD.address + g.addressBytes);
  const tagAt = base + RECORD.address + g.addressBytes;
  const replayTag = (): Uint8Array => records.slice(tagAt, tagAt + g.replayTagBytes);
  const delayUs = view.getUint32(RECORD.delay, true);
  const payload = packet.subarray(g.offsets.payload, g.packetBytes);
  switch (kind) {
    case 'relay':
      return { kind, next: address(), delayUs, replayTag: replayTag() };
    case 'deliver':
      return { kind, client: address(), delayUs, replayTag: replayTag() };
    case 'drop':
      return { kind, replayTag: replayTag() };
    case 'final':
    case 'loop':
      return { kind, id: address(), content: payload.subarray(g.integrityBytes), replayTag: replayTag() };
    case 'surbReply':
      return { kind, id: address(), payload, replayTag: replayTag() };
    default: {
      const reason: InvalidReason = INVALID_REASONS[view.getUint8(RECORD.reason) - 1] ?? 'length';
      return { kind: 'invalid', reason };
    }
  }
}

/** Encodes `result` as the record at `index` (the TypeScript twin's batch path). */
export function encodeRecord(g: Geometry, records: Uint8Array, index: number, result: UnwrapResult): void {
  const base = index * g.recordBytes;
  records.fill(0, base, base + g.recordBytes);
  const view = new DataView(records.buffer, records.byteOffset + base, g.recordBytes);
  view.setUint8(RECORD.kind, ResultKind[result.kind]);
  if (result.kind === 'invalid') {
    view.setUint8(RECORD.reason, INVALID_REASONS.indexOf(result.reason) + 1);
    return;
  }
  const address =
    result.kind === 'relay'
      ? result.next
      : result.kind === 'deliver'
        ? result.client
        : result.kind === 'drop'
          ? null
          : result.id;
  if (result.kind === 'relay' || result.kind === 'deliver') view.setUint32(RECORD.delay, result.delayUs, true);
  if (address) records.set(address, base + RECORD.address);
  records.set(result.replayTag, base + RECORD.address + g.addressBytes);
}
