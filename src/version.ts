/** loopix's version: the `version` of its package.json (read once; `loopix --version`, loopix_node_info). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export const LOOPIX_VERSION: string = (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
