/**
 * Regenerates test/vectors/sphinx-v1.json from the TypeScript twin (the readable reference) and, when the
 * native addon is built, refuses to write unless the addon produces the same bytes.
 *
 *   npm run vectors
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tsBackend } from '../../src/sphinx/ts/index.js';
import { loadNativeBackend } from '../../src/sphinx/native.js';
import { trace } from './cases.js';
import { selfTestDigest, selfTestPacket } from '../../src/sphinx/selftest.js';

const reference = trace(tsBackend);
let nativeChecked = false;
try {
  const native = loadNativeBackend();
  if (JSON.stringify(trace(native)) !== JSON.stringify(reference)) {
    console.error('native addon and TypeScript twin disagree; not writing vectors');
    process.exit(1);
  }
  nativeChecked = true;
} catch (err) {
  console.error(`native addon not checked: ${(err as Error).message}`);
}
const out = fileURLToPath(new URL('../../../test/vectors/sphinx-v1.json', import.meta.url));
writeFileSync(
  out,
  `${JSON.stringify({ format: 'loopix sphinx v1 (docs/packet-format.md)', generator: 'test/vectors/generate.ts', cases: reference }, null, 1)}\n`,
);
console.log(`wrote ${reference.length} cases to ${out} (native cross-checked: ${nativeChecked})`);
console.log(`self-test packet digest: ${selfTestDigest(tsBackend, selfTestPacket(tsBackend))}`);
