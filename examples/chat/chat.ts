/**
 * A two-person chat on the loopix browser client (`loopix/browser`): each person opens the page under a name
 * (`?name=alice`), copies their address to the other, adds the other's address as a contact, and chats.
 * Served by `loopix chat` (src/cli/chat.ts) against a local network; README "Chat demo".
 *
 * A recipient learns nothing of a message's sender from the network (Loopix §3: sender anonymity towards
 * the recipient's provider). So that a reply can go back, each chat message carries the sender's address in
 * its content, unauthenticated: anyone who knows your address can write as any name (docs/client-api.md).
 */
import {
  createBrowserClient,
  fetchTopology,
  parseAddress,
  type LoopixClient,
  type NetworkParams,
  type TopologyTrust,
} from '../../src/entries/browser.js';

interface PageConfig {
  readonly trust: TopologyTrust;
  readonly params: NetworkParams;
  readonly topologyUrl: string;
}

/** What travels in a message's bytes (JSON). */
interface ChatMessage {
  readonly v: 1;
  /** The sender's address, so the recipient can answer (not authenticated). */
  readonly from: string;
  readonly name: string;
  readonly text: string;
}

interface Contact {
  readonly name: string;
  readonly address: string;
}

interface Line {
  readonly contact: string;
  readonly mine: boolean;
  readonly text: string;
  state: 'sending' | 'delivered' | 'failed' | 'received';
}

const q = new URLSearchParams(location.search);
const me = q.get('name') ?? 'me';
const key = (what: string) => `loopix-chat:${me}:${what}`;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const contacts: Contact[] = JSON.parse(localStorage.getItem(key('contacts')) ?? '[]') as Contact[];
const lines: Line[] = [];
let active: string | undefined = contacts[0]?.address;
let client: LoopixClient | undefined;

function render(): void {
  const list = $('contacts');
  list.replaceChildren(
    ...contacts.map((c) => {
      const li = document.createElement('li');
      li.textContent = c.name;
      li.title = c.address;
      li.dataset.address = c.address;
      if (c.address === active) li.className = 'active';
      li.onclick = () => {
        active = c.address;
        render();
      };
      return li;
    }),
  );
  const peer = contacts.find((c) => c.address === active);
  $('peer').textContent = peer ? `Chat with ${peer.name}` : 'Pick a contact';
  $('messages').replaceChildren(
    ...lines
      .filter((l) => l.contact === active)
      .map((l) => {
        const li = document.createElement('li');
        li.className = l.mine ? 'mine' : 'theirs';
        li.dataset.state = l.state;
        li.append(l.text);
        const meta = document.createElement('span');
        meta.className = 'meta';
        meta.textContent = l.mine
          ? { sending: 'sending…', delivered: 'delivered ✓', failed: 'not delivered' }[l.state as 'sending']
          : `from ${peer?.name ?? '?'}`;
        li.append(meta);
        return li;
      }),
  );
}

function addContact(name: string, address: string): void {
  if (!contacts.some((c) => c.address === address)) contacts.push({ name, address });
  localStorage.setItem(key('contacts'), JSON.stringify(contacts));
  active = address;
  render();
}

async function main(): Promise<void> {
  const config = (await (await fetch('/config.json', { cache: 'no-store' })).json()) as PageConfig;
  // The document is verified here, in the page, against the trust the server handed out with the page itself.
  const topology = await fetchTopology(config.topologyUrl, config.trust);
  const providers = topology.providers;
  // The address names the provider, so a person keeps theirs: chosen once (or by ?provider=<index>) and kept.
  const wanted = q.get('provider');
  let providerId = localStorage.getItem(key('provider')) ?? undefined;
  if (wanted !== null) providerId = providers[Number(wanted) % providers.length]!.id;
  if (providerId === undefined || !topology.node(providerId))
    providerId = providers[Math.floor(Math.random() * providers.length)]!.id;
  localStorage.setItem(key('provider'), providerId);

  const c = await createBrowserClient({
    config: { providerId, params: config.params },
    topology,
    database: `loopix-chat-${me}`,
    follow: { url: config.topologyUrl, trust: config.trust },
  });
  client = c;
  c.start();
  $('me').textContent = `${me}: ${c.address}`;
  setInterval(() => {
    $('status').textContent = c.connected ? 'online' : 'offline';
    $('status').className = c.connected ? 'online' : '';
  }, 250);
  (window as unknown as { chat: unknown }).chat = { client: c, name: me, lines, contacts };
  render();

  for await (const m of c.messages()) {
    let msg: ChatMessage;
    try {
      msg = JSON.parse(new TextDecoder().decode(m.bytes)) as ChatMessage;
      parseAddress(topology.geometry, msg.from);
    } catch {
      continue; // not a chat message
    }
    if (!contacts.some((x) => x.address === msg.from)) addContact(msg.name, msg.from);
    lines.push({ contact: msg.from, mine: false, text: msg.text, state: 'received' });
    render();
  }
}

$('add').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $<HTMLInputElement>('contact-name').value.trim();
  const address = $<HTMLInputElement>('contact-address').value.trim();
  if (!name || !address) return;
  $<HTMLInputElement>('contact-name').value = '';
  $<HTMLInputElement>('contact-address').value = '';
  addContact(name, address);
});

$('compose').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>('message');
  const text = input.value.trim();
  if (!text || !client || !active) return;
  input.value = '';
  const line: Line = { contact: active, mine: true, text, state: 'sending' };
  lines.push(line);
  render();
  const body: ChatMessage = { v: 1, from: client.address, name: me, text };
  client.send(active, new TextEncoder().encode(JSON.stringify(body))).then(
    () => {
      line.state = 'delivered';
      render();
    },
    () => {
      line.state = 'failed';
      render();
    },
  );
});

main().catch((err: unknown) => {
  $('me').textContent = `error: ${err instanceof Error ? err.message : String(err)}`;
});
