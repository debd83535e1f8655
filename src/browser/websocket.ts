/**
 * The browser's own WebSocket as the client's WebSocket factory (src/client/connection.ts). A browser cannot
 * set what Node's `ws` sets (payload limit, handshake timeout, no permessage-deflate): the session's own
 * handshake timer covers the timeout, and the provider bounds what it sends (docs/client-api.md "Browser
 * client").
 */
import { LoopixError } from '../errors.js';
import type { WebSocketFactory, WebSocketLike } from '../client/connection.js';

export const browserWebSocket: WebSocketFactory = (url) => {
  const Ws = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  if (typeof Ws !== 'function')
    throw new LoopixError(
      'ERR_LOOPIX_CLIENT_TRANSPORT',
      'this runtime has no global WebSocket: pass a webSocket factory',
      { field: 'webSocket' },
    );
  return new Ws(url);
};
