/** The messages a client receives, collected as they arrive (tests wait on the array's length). */
import type { LoopixClient, ReceivedMessage } from '../../src/client/index.js';

export function collect(client: Pick<LoopixClient, 'messages'>): ReceivedMessage[] {
  const got: ReceivedMessage[] = [];
  void (async () => {
    for await (const m of client.messages()) got.push(m);
  })();
  return got;
}
