/**
 * The packet-format constants exist twice — src/geometry.ts for TypeScript, native/format.h for the addon —
 * and must never drift: a record offset or a length that differs would make the native and TypeScript paths
 * disagree on every packet. The addon exports its constants (`format`); this test compares each one.
 */
import { describe, expect, it } from 'vitest';
import { FORMAT, GEOMETRY_LIMITS, MAX_RECORD_BYTES, RECORD, RECORD_NO_KEY_REASON, ROUTING } from '../src/geometry.js';
import { nativeFormatConstants } from '../src/sphinx/native.js';

/** What native/format.h must say, named as binding.cc exports it. */
function expectedFromTypeScript(): Record<string, number> {
  return {
    ...FORMAT,
    minHops: GEOMETRY_LIMITS.maxHops.min,
    maxHops: GEOMETRY_LIMITS.maxHops.max,
    minAddressBytes: GEOMETRY_LIMITS.addressBytes.min,
    maxAddressBytes: GEOMETRY_LIMITS.addressBytes.max,
    minContentBytes: GEOMETRY_LIMITS.contentBytes.min,
    maxContentBytes: GEOMETRY_LIMITS.contentBytes.max,
    routingCommandOffset: ROUTING.command,
    routingDelayOffset: ROUTING.delay,
    routingAddressOffset: ROUTING.address,
    recordKindOffset: RECORD.kind,
    recordReasonOffset: RECORD.reason,
    recordDelayOffset: RECORD.delay,
    recordAddressOffset: RECORD.address,
    maxRecordBytes: MAX_RECORD_BYTES,
    recordNoKeyReason: RECORD_NO_KEY_REASON,
  };
}

describe('format constants', () => {
  it('native/format.h and src/geometry.ts give every format constant the same value', () => {
    expect({ ...nativeFormatConstants() }).toEqual(expectedFromTypeScript());
  });
});
