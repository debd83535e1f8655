/** `loopix keygen`: an X25519 key pair from the OS CSPRNG, as JSON (hex). */
import { writeFileSync } from 'node:fs';
import { loadSphinx } from '../sphinx/loader.js';

export function runKeygen(o: { out?: string }): void {
  const { backend } = loadSphinx();
  const privateKey = crypto.getRandomValues(new Uint8Array(32));
  const pair = { type: 'x25519', publicKey: Buffer.from(backend.x25519Base(privateKey)).toString('hex'), privateKey: Buffer.from(privateKey).toString('hex') };
  privateKey.fill(0);
  const text = `${JSON.stringify(pair, null, 2)}\n`;
  if (o.out) {
    writeFileSync(o.out, text, { mode: 0o600, flag: 'wx' });
    process.stdout.write(`${JSON.stringify({ publicKey: pair.publicKey, file: o.out })}\n`);
  } else process.stdout.write(text);
}
