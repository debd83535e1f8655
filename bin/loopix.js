#!/usr/bin/env node
// The `loopix` command. The TypeScript sources are compiled to dist/ by `npm install` (the prepare script).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    'loopix: dist/ is missing; run `npm install` (or `npm run build:ts`) in the project root first\n',
  );
  process.exit(2);
}
const { main } = await import(entry.href);
await main(process.argv);
