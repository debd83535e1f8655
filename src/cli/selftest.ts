/** `loopix selftest`: which Sphinx implementation this machine runs, after its known-answer check. */
import { DEFAULT_GEOMETRY as g } from '../geometry.js';
import { loadSphinx } from '../sphinx/loader.js';
import { nativeX25519Impl } from '../sphinx/native.js';

export function runSelftest(): void {
  const { backend, fallbackReason } = loadSphinx();
  const impl = backend.name === 'native' ? `, X25519 via ${nativeX25519Impl()}` : ` (${fallbackReason})`;
  process.stdout.write(
    `sphinx: ${backend.name} backend passed its self-check${impl}; packets are ${g.packetBytes} bytes (${g.maxHops} hops, ${g.contentBytes}-byte content)\n`,
  );
}
