/**
 * The LoopixClient seen through the local API's small `ApiClient` interface. `send()` of the client returns a
 * handle whose message id is known at once and whose promise settles when every fragment is acknowledged;
 * the API answers `sent` with the id as soon as the message is queued (acknowledgement and failure are the
 * client's to report, and a rejection is logged here rather than left unhandled).
 */
import type { LoopixClient, SendHandle } from '../client/client.js';
import type { ApiClient } from './server.js';

export function apiClientFor(client: LoopixClient, log: (line: string) => void = () => {}): ApiClient {
  const queued = (h: SendHandle): Promise<string> => {
    h.catch((err: unknown) => log(`message ${h.messageId}: ${(err as Error).message}`));
    return Promise.resolve(h.messageId);
  };
  return {
    get address() {
      return client.address;
    },
    geometry: client.geometry,
    params: client.params,
    send: (to, bytes) => queued(client.send(to, bytes)),
    messages: () => client.messages(),
    sendAnonymous: (to, bytes, replySurbs) => queued(client.send(to, bytes, { replySurbs })),
    reply: (handle, bytes) => queued(client.reply(handle, bytes)),
    openMailbox: (postOfficeId) => client.openMailbox(postOfficeId),
  };
}
