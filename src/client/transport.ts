/**
 * The provider session as a LoopixClient transport (src/client/client.ts `TransportFactory`): a
 * ProviderConnection to the provider's topology `ws` URL over an injected WebSocket factory. Runtime-neutral:
 * Node passes the `ws` package (src/client/node.ts `wsTransport`), a browser its own WebSocket
 * (src/browser/websocket.ts). The session, its frames and its pull schedule are the same either way.
 */
import { LoopixError } from '../errors.js';
import type { TransportFactory } from './client.js';
import { ProviderConnection, type BackoffOptions, type WebSocketFactory } from './connection.js';

export function webSocketTransport(webSocket: WebSocketFactory, backoff?: BackoffOptions): TransportFactory {
  return (handlers, c) => {
    if (!c.provider.ws)
      throw new LoopixError('ERR_LOOPIX_CLIENT_PROVIDER', `provider ${c.provider.id} has no ws URL in the topology`, {
        field: 'ws',
      });
    return new ProviderConnection({
      url: c.provider.ws,
      webSocket,
      geometry: c.geometry,
      publicKey: c.publicKey,
      privateKey: c.privateKey,
      x25519: (s, p) => c.backend.x25519(s, p),
      pullIntervalMs: c.params.pullIntervalMs,
      pullK: c.params.pullK,
      ...handlers,
      backoff,
      scheduler: c.scheduler,
      random: c.random,
      log: c.log,
    });
  };
}
