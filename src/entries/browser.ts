/**
 * `loopix/browser`: the client library for browsers — everything in `loopix/client`, plus the browser
 * defaults: `createBrowserClient` (the TypeScript Sphinx twin, the browser's WebSocket, IndexedDB for the
 * key pair and pending state), `fetchTopology` / `followTopology` (documents verified in the page), and the
 * TypeScript Sphinx backend. No Node built-in is reachable from here: it bundles with esbuild or Vite as it
 * is (test/browser-bundle.test.ts). See docs/client-api.md "Browser client".
 *
 * @module loopix/browser
 */
export * from './client.js';
export * from '../browser/index.js';
export { tsBackend } from '../sphinx/ts/index.js';
