/**
 * The local client API's wire format (docs/client-api.md): requests an application sends to
 * `loopix client serve` and the frames it gets back, in two framings over one WebSocket:
 *
 * - JSON text frames: `{"type": "send", "id": 1, "to": "loopix1:…", "message": "hi"}`; message bodies as UTF-8
 *   text (`message`) or base64 (`data`).
 * - Binary frames: byte 0 the frame kind, bytes 1–4 a request id (uint32, big-endian; 0 in frames nobody
 *   asked for), then the kind's body. Numbers are big-endian; addresses and codes are ASCII.
 *
 * A reply uses the framing of its request; `received` frames use the connection's framing (chosen with
 * `?format=binary`, default JSON). Parsing never throws: a bad frame becomes an ApiError for an error frame.
 */
import { Buffer } from 'node:buffer';
// The client's sender-chosen message id (16 bytes, shown as 32 hex digits in JSON frames).
import { MESSAGE_ID_BYTES } from '../client/fragments.js';

/** Binary frame kinds (byte 0). Requests have the high bit clear, frames from the server set. */
export const BinaryKind = Object.freeze({
  send: 0x01,
  sendAnonymous: 0x02,
  reply: 0x03,
  selfAddress: 0x04,
  openMailbox: 0x05,
  sent: 0x81,
  selfAddressReply: 0x84,
  mailboxReply: 0x85,
  received: 0x90,
  error: 0xff,
});

/** Bytes of the binary header: kind (1) + request id (uint32). */
export const BINARY_HEADER_BYTES = 5;
/** Bytes of the uint16 length before an address or a sender tag. */
export const LENGTH_PREFIX_BYTES = 2;
/** Bytes of the uint32 latency (ms) in a binary `received` frame. */
export const LATENCY_BYTES = 4;
/** Bytes of the uint8 reply-SURB count of a binary sendAnonymous and of the code length of an error frame. */
const U8_BYTES = 1;
/** Longest JSON request id echoed back (characters); longer ids are refused so error frames stay small. */
export const MAX_JSON_ID_CHARS = 128;
/** Most reply SURBs one sendAnonymous may ask for (one byte in the binary framing). */
export const MAX_REPLY_SURBS = 255;

/** Stable error codes of the API (the `code` of every error frame). */
export const ApiErrorCode = Object.freeze({
  /** Not JSON, not an object, or a binary frame shorter than its header or its declared fields. */
  malformed: 'ERR_LOOPIX_API_MALFORMED',
  /** `type` (or the binary kind) names no request. */
  unknownType: 'ERR_LOOPIX_API_UNKNOWN_TYPE',
  /** A field is missing or has the wrong type; `field` names it. */
  invalidField: 'ERR_LOOPIX_API_INVALID_FIELD',
  /** `to` is neither a loopix1: nor a loopixpo1: (anonymous mailbox) address of this network. */
  badAddress: 'ERR_LOOPIX_API_BAD_ADDRESS',
  /** The message is larger than the network's params.maxMessageBytes. */
  messageTooLarge: 'ERR_LOOPIX_API_MESSAGE_TOO_LARGE',
  /** The frame is larger than the server's limit; the server closes the connection (1009) after this. */
  frameTooLarge: 'ERR_LOOPIX_API_FRAME_TOO_LARGE',
  /** The request is valid but this client cannot do it yet (sendAnonymous and reply need reply SURBs). */
  notSupported: 'ERR_LOOPIX_API_NOT_SUPPORTED',
  /** The client refused the message for another reason (the text says which). */
  sendFailed: 'ERR_LOOPIX_API_SEND_FAILED',
  /** openMailbox: the topology lists no post office, or `postOffice` is not one (the text says which). */
  noPostOffice: 'ERR_LOOPIX_API_NO_POST_OFFICE',
});
export type ApiErrorCodeValue = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

export type Framing = 'json' | 'binary';
/** JSON ids are echoed as given (string or number); binary ids are uint32. */
export type RequestId = string | number | undefined;

interface RequestBase {
  readonly id: RequestId;
  readonly framing: Framing;
}
export type ApiRequest =
  | (RequestBase & { readonly type: 'send'; readonly to: string; readonly bytes: Uint8Array })
  | (RequestBase & {
      readonly type: 'sendAnonymous';
      readonly to: string;
      readonly bytes: Uint8Array;
      readonly replySurbs: number;
    })
  | (RequestBase & { readonly type: 'reply'; readonly senderTag: string; readonly bytes: Uint8Array })
  | (RequestBase & { readonly type: 'selfAddress' })
  /** A new anonymous mailbox at a post office (the first of the topology unless `postOffice` names one). */
  | (RequestBase & { readonly type: 'openMailbox'; readonly postOffice?: string });

export interface ApiError {
  readonly id: RequestId;
  readonly framing: Framing;
  readonly code: ApiErrorCodeValue;
  readonly message: string;
  readonly field?: string;
}

export type ParseResult =
  { readonly ok: true; readonly request: ApiRequest } | { readonly ok: false; readonly error: ApiError };

const fail = (
  framing: Framing,
  id: RequestId,
  code: ApiErrorCodeValue,
  message: string,
  field?: string,
): ParseResult => ({
  ok: false,
  error: { framing, id, code, message, ...(field !== undefined ? { field } : {}) },
});

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parses one JSON text frame. */
export function parseJsonRequest(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail('json', undefined, ApiErrorCode.malformed, `frame is not JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return fail('json', undefined, ApiErrorCode.malformed, 'frame must be a JSON object');
  const o = value as Record<string, unknown>;
  let id: RequestId;
  if (o.id !== undefined) {
    if ((typeof o.id !== 'string' && typeof o.id !== 'number') || String(o.id).length > MAX_JSON_ID_CHARS) {
      return fail(
        'json',
        undefined,
        ApiErrorCode.invalidField,
        `id must be a string or number of at most ${MAX_JSON_ID_CHARS} characters`,
        'id',
      );
    }
    id = o.id;
  }
  const bad = (field: string, what: string) => fail('json', id, ApiErrorCode.invalidField, `${field} ${what}`, field);
  const body = (): Uint8Array | ParseResult => {
    if ((o.message === undefined) === (o.data === undefined))
      return bad('message', 'or data: give exactly one (message: UTF-8 text, data: base64)');
    if (o.message !== undefined)
      return typeof o.message === 'string' ? new TextEncoder().encode(o.message) : bad('message', 'must be a string');
    if (typeof o.data !== 'string' || o.data.length % 4 !== 0 || !BASE64.test(o.data))
      return bad('data', 'must be standard base64 (with padding)');
    return new Uint8Array(Buffer.from(o.data, 'base64'));
  };
  const address = (field: string): string | ParseResult =>
    typeof o[field] === 'string' ? o[field] : bad(field, 'must be a string');
  switch (o.type) {
    case 'send':
    case 'sendAnonymous': {
      const to = address('to');
      if (typeof to !== 'string') return to;
      const bytes = body();
      if (!(bytes instanceof Uint8Array)) return bytes;
      if (o.type === 'send') return { ok: true, request: { type: 'send', id, framing: 'json', to, bytes } };
      const replySurbs = o.replySurbs ?? 0;
      if (
        typeof replySurbs !== 'number' ||
        !Number.isInteger(replySurbs) ||
        replySurbs < 0 ||
        replySurbs > MAX_REPLY_SURBS
      ) {
        return bad('replySurbs', `must be an integer 0..${MAX_REPLY_SURBS}`);
      }
      return { ok: true, request: { type: 'sendAnonymous', id, framing: 'json', to, bytes, replySurbs } };
    }
    case 'reply': {
      const senderTag = address('senderTag');
      if (typeof senderTag !== 'string') return senderTag;
      const bytes = body();
      if (!(bytes instanceof Uint8Array)) return bytes;
      return { ok: true, request: { type: 'reply', id, framing: 'json', senderTag, bytes } };
    }
    case 'selfAddress':
      return { ok: true, request: { type: 'selfAddress', id, framing: 'json' } };
    case 'openMailbox': {
      if (o.postOffice === undefined) return { ok: true, request: { type: 'openMailbox', id, framing: 'json' } };
      const postOffice = address('postOffice');
      if (typeof postOffice !== 'string') return postOffice;
      return { ok: true, request: { type: 'openMailbox', id, framing: 'json', postOffice } };
    }
    case undefined:
      return bad('type', 'is missing');
    default:
      return fail(
        'json',
        id,
        ApiErrorCode.unknownType,
        `type ${JSON.stringify(o.type)} is not a request (send, sendAnonymous, reply, selfAddress, openMailbox)`,
        'type',
      );
  }
}

/** Parses one binary frame. */
export function parseBinaryRequest(frame: Uint8Array): ParseResult {
  if (frame.length < BINARY_HEADER_BYTES)
    return fail(
      'binary',
      0,
      ApiErrorCode.malformed,
      `binary frame must be at least ${BINARY_HEADER_BYTES} bytes (kind, request id), got ${frame.length}`,
    );
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const kind = frame[0]!;
  const id = view.getUint32(1);
  let at = BINARY_HEADER_BYTES;
  const short = (field: string) =>
    fail('binary', id, ApiErrorCode.malformed, `binary frame ends inside ${field}`, field);
  /** A u16-length-prefixed ASCII string. */
  const lengthPrefixed = (field: string): string | ParseResult => {
    if (frame.length < at + LENGTH_PREFIX_BYTES) return short(`${field} length`);
    const n = view.getUint16(at);
    at += LENGTH_PREFIX_BYTES;
    if (frame.length < at + n) return short(field);
    const text = Buffer.from(frame.subarray(at, at + n)).toString('latin1');
    at += n;
    return text;
  };
  switch (kind) {
    case BinaryKind.send: {
      const to = lengthPrefixed('to');
      if (typeof to !== 'string') return to;
      return { ok: true, request: { type: 'send', id, framing: 'binary', to, bytes: frame.slice(at) } };
    }
    case BinaryKind.sendAnonymous: {
      if (frame.length < at + U8_BYTES) return short('replySurbs');
      const replySurbs = frame[at]!;
      at += U8_BYTES;
      const to = lengthPrefixed('to');
      if (typeof to !== 'string') return to;
      return {
        ok: true,
        request: { type: 'sendAnonymous', id, framing: 'binary', to, bytes: frame.slice(at), replySurbs },
      };
    }
    case BinaryKind.reply: {
      const senderTag = lengthPrefixed('senderTag');
      if (typeof senderTag !== 'string') return senderTag;
      return { ok: true, request: { type: 'reply', id, framing: 'binary', senderTag, bytes: frame.slice(at) } };
    }
    case BinaryKind.selfAddress:
      return { ok: true, request: { type: 'selfAddress', id, framing: 'binary' } };
    case BinaryKind.openMailbox: {
      // Optional body: the post office's node id (ASCII hex); none: the topology's first post office.
      if (frame.length === at) return { ok: true, request: { type: 'openMailbox', id, framing: 'binary' } };
      return {
        ok: true,
        request: {
          type: 'openMailbox',
          id,
          framing: 'binary',
          postOffice: Buffer.from(frame.subarray(at)).toString('latin1'),
        },
      };
    }
    default:
      return fail(
        'binary',
        id,
        ApiErrorCode.unknownType,
        `binary kind 0x${kind.toString(16).padStart(2, '0')} is not a request (0x01 send, 0x02 sendAnonymous, 0x03 reply, 0x04 selfAddress, 0x05 openMailbox)`,
        'kind',
      );
  }
}

function binaryHeader(kind: number, id: RequestId, bodyBytes: number): { frame: Uint8Array; view: DataView } {
  const frame = new Uint8Array(BINARY_HEADER_BYTES + bodyBytes);
  const view = new DataView(frame.buffer);
  frame[0] = kind;
  view.setUint32(1, typeof id === 'number' ? id : 0);
  return { frame, view };
}

/** What the server says to an application, before framing. */
export type ApiEvent =
  | { readonly type: 'sent'; readonly id: RequestId; readonly messageId: string }
  | { readonly type: 'selfAddress'; readonly id: RequestId; readonly address: string }
  | { readonly type: 'mailbox'; readonly id: RequestId; readonly address: string }
  | {
      readonly type: 'received';
      readonly messageId: string;
      readonly latencyMs: number;
      readonly bytes: Uint8Array;
      readonly senderTag?: string;
    }
  | ({ readonly type: 'error' } & Omit<ApiError, 'framing'>);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Encodes `event` as a JSON text frame (string) or a binary frame (Uint8Array). */
export function encodeEvent(event: ApiEvent, framing: Framing): string | Uint8Array {
  if (framing === 'json') {
    if (event.type !== 'received') return JSON.stringify(event);
    let text: string | undefined;
    try {
      text = utf8.decode(event.bytes);
    } catch {
      text = undefined;
    }
    const { bytes, ...rest } = event;
    return JSON.stringify({
      ...rest,
      ...(text !== undefined ? { message: text } : {}),
      data: Buffer.from(bytes).toString('base64'),
    });
  }
  switch (event.type) {
    case 'sent': {
      const { frame } = binaryHeader(BinaryKind.sent, event.id, MESSAGE_ID_BYTES);
      frame.set(Buffer.from(event.messageId, 'hex').subarray(0, MESSAGE_ID_BYTES), BINARY_HEADER_BYTES);
      return frame;
    }
    case 'selfAddress':
    case 'mailbox': {
      const address = Buffer.from(event.address, 'latin1');
      const { frame } = binaryHeader(
        event.type === 'mailbox' ? BinaryKind.mailboxReply : BinaryKind.selfAddressReply,
        event.id,
        address.length,
      );
      frame.set(address, BINARY_HEADER_BYTES);
      return frame;
    }
    case 'received': {
      // [message id (16)][latency ms (u32)][message bytes]
      const { frame, view } = binaryHeader(
        BinaryKind.received,
        0,
        MESSAGE_ID_BYTES + LATENCY_BYTES + event.bytes.length,
      );
      frame.set(Buffer.from(event.messageId, 'hex').subarray(0, MESSAGE_ID_BYTES), BINARY_HEADER_BYTES);
      view.setUint32(
        BINARY_HEADER_BYTES + MESSAGE_ID_BYTES,
        Math.min(0xffff_ffff, Math.max(0, Math.round(event.latencyMs))),
      );
      frame.set(event.bytes, BINARY_HEADER_BYTES + MESSAGE_ID_BYTES + LATENCY_BYTES);
      return frame;
    }
    case 'error': {
      // [code length (u8)][code ASCII][message UTF-8]
      const code = Buffer.from(event.code, 'latin1');
      const message = Buffer.from(event.message, 'utf8');
      const { frame } = binaryHeader(BinaryKind.error, event.id, U8_BYTES + code.length + message.length);
      frame[BINARY_HEADER_BYTES] = code.length;
      frame.set(code, BINARY_HEADER_BYTES + U8_BYTES);
      frame.set(message, BINARY_HEADER_BYTES + U8_BYTES + code.length);
      return frame;
    }
  }
}
