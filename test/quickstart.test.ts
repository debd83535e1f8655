/**
 * The README's quick start, exactly as written, on one local network:
 * 1. "Send your first message": the three terminals' commands, each run as a shell command from the project
 *    folder (terminal 1 the network, terminal 2 `client recv`, terminal 3 `client send`);
 * 2. `loopix client serve` driven by the standard-library Python client of docs/client-api.md;
 * 3. the package: `npm pack`, installed into an empty project (offline, from the lock file's exact versions),
 *    its addon built by its own install script, the README's SDK example run there against the network and
 *    type-checked against the package's declarations for all four entry points.
 * Plus the CLI's error lines (`--version` and `--help`: test/cli-operator.test.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadSphinx } from '../src/sphinx/loader.js';
import { writeKeyFile } from '../src/testnet/network.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const NET_DIR = join(root, 'first-net');

/** The fenced blocks of `lang` in the README section headed `heading`. */
function blocks(text: string, heading: string, lang: string): string[] {
  const start = text.indexOf(`## ${heading}\n`);
  if (start < 0) throw new Error(`README has no section "## ${heading}"`);
  const end = text.indexOf('\n## ', start + 4);
  const section = text.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

/** "# terminal N: …" blocks → the command lines under each. */
function terminalCommands(): Map<number, string> {
  const out = new Map<number, string>();
  for (const b of blocks(readme, 'Send your first message', 'sh')) {
    const lines = b.trim().split('\n');
    const n = /^# terminal (\d)/.exec(lines[0]!);
    if (n) out.set(Number(n[1]), lines.slice(1).join('\n').trim());
  }
  return out;
}

interface Proc {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  exit: Promise<number | null>;
}

const running = new Set<Proc>();

/**
 * `npx loopix` run in the project links the project into npx's cache, and on a fresh cache (a fresh clone, a
 * new worktree) that link runs the project's install script: `node-gyp rebuild` of the addon that `npm install`
 * (and test/global-setup.ts) already built, about a minute of compiling on 2 cores before the command starts.
 * The commands are run exactly as written; npm only skips that second build.
 */
const NPX_ENV = { npm_config_ignore_scripts: 'true' };

/** Runs `command` with sh in its own process group (so Ctrl-C can be imitated for the whole group). */
function shell(command: string, cwd = root, env: NodeJS.ProcessEnv = NPX_ENV): Proc {
  const child = spawn('sh', ['-c', command], {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const p: Proc = { child, stdout: '', stderr: '', exit: Promise.resolve(null) };
  child.stdout.on('data', (d: Buffer) => (p.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (p.stderr += d.toString()));
  p.exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  running.add(p);
  void p.exit.then(() => running.delete(p));
  return p;
}

/** Ctrl-C: SIGINT to the process group this test started, then wait for the exit. */
async function interrupt(p: Proc, timeoutMs = 30_000): Promise<number | null> {
  try {
    process.kill(-p.child.pid!, 'SIGINT');
  } catch {
    return p.exit;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-p.child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, timeoutMs);
  const code = await p.exit;
  clearTimeout(timer);
  return code;
}

const wait = <T>(f: () => T | undefined | false, what: string, timeoutMs: number): Promise<T> =>
  vi.waitFor(
    () => {
      const v = f();
      if (v === undefined || v === false) throw new Error(`still waiting for ${what}`);
      return v;
    },
    { timeout: timeoutMs, interval: 100 },
  );

let network: Proc | undefined;

/**
 * Runs a process that sends one message and waits for it, up to three times (60 s each). Loopix has no
 * retransmission (yet): on a host whose CPU other jobs take, the nodes' queues overflow and drop packets
 * (counted as queue_full/aqm), and a message can be lost; each attempt is a whole real run.
 */
async function attempt(start: () => Proc, onStart: () => void = () => undefined): Promise<Proc> {
  let last: Proc | undefined;
  for (let i = 0; i < 3; i++) {
    onStart();
    last = start();
    const code = await Promise.race([last.exit, new Promise((r) => setTimeout(() => r('timeout'), 60_000))]);
    if (code === 0) return last;
    await interrupt(last, 5000);
    if (code !== 'timeout') break; // a real failure, not a lost message
  }
  throw new Error(
    `no success in 3 attempts; last stderr: ${last!.stderr.slice(-2000)}; stdout: ${last!.stdout.slice(-1000)}`,
  );
}

beforeAll(async () => {
  rmSync(NET_DIR, { recursive: true, force: true });
  const terminal1 = terminalCommands().get(1)!;
  expect(terminal1).toBe('npx loopix testnet --dir first-net');
  network = shell(terminal1);
  const died = network.exit.then((code) =>
    Promise.reject(new Error(`testnet exited (${code}): ${network!.stderr.slice(-2000)}`)),
  );
  died.catch(() => undefined); // it exits at the end as well
  await Promise.race([
    wait(() => network!.stderr.includes('client configs ready'), 'the testnet to start', 120_000),
    died,
  ]);
}, 150_000);

afterAll(async () => {
  for (const p of [...running].filter((x) => x !== network)) await interrupt(p, 5000);
  if (network) await interrupt(network);
  rmSync(NET_DIR, { recursive: true, force: true });
}, 60_000);

describe('README "Send your first message"', () => {
  it('terminal 1 writes ready client configs and addresses', () => {
    for (const name of ['alice', 'bob']) {
      const config = JSON.parse(readFileSync(join(NET_DIR, 'clients', `${name}.json`), 'utf8')) as Record<
        string,
        unknown
      >;
      // The default testnet rotates keys, so its clients follow the directory authorities and keep the last
      // valid document in a file of their own.
      expect(config).toMatchObject({
        keyFile: `${name}.key.json`,
        topologyFile: `${name}.topology.json`,
        directory: { threshold: 2 },
      });
      expect((config.directory as { authorities: unknown[] }).authorities).toHaveLength(3);
      expect(readFileSync(join(NET_DIR, 'clients', `${name}.address`), 'utf8')).toMatch(
        /^loopix1:[0-9a-f]{32}:[0-9a-f]{64}\n$/,
      );
    }
  });

  it('terminal 3 sends "Hello, Bob!" and terminal 2 prints it', async () => {
    const cmds = terminalCommands();
    const recv = shell(cmds.get(2)!);
    await wait(() => recv.stderr.includes('"address"'), 'client recv to start', 60_000);
    let line: string | undefined;
    // Up to three sends (see attempt()): a lost message is the loaded host's, not the commands'.
    for (let i = 0; i < 3 && line === undefined; i++) {
      const send = shell(cmds.get(3)!);
      expect(await send.exit, send.stderr).toBe(0);
      expect(JSON.parse(send.stdout.trim())).toMatchObject({
        sent: true,
        to: readFileSync(join(NET_DIR, 'clients', 'bob.address'), 'utf8').trim(),
        bytes: 11,
      });
      line = await wait(
        () => recv.stdout.split('\n').find((l) => l.includes('Hello, Bob!')),
        'the message in terminal 2',
        60_000,
      ).catch(() => undefined);
    }
    await interrupt(recv);
    expect(line, recv.stderr.slice(-2000)).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ text: 'Hello, Bob!', bytes: 11 });
  }, 300_000);
});

describe('loopix client serve, driven from Python', () => {
  it('the 19-line standard-library Python client of docs/client-api.md gets its address, sends itself a message and receives it', async () => {
    const doc = readFileSync(join(root, 'docs', 'client-api.md'), 'utf8');
    const example = /```sh\n(npx loopix client serve [^\n]*) &\npython3 (examples\/client-api\.py)\n/.exec(doc);
    expect(example, 'docs/client-api.md has the serve + python example').not.toBeNull();
    expect(readFileSync(join(root, example![2]!), 'utf8').trim().split('\n').length).toBeLessThanOrEqual(20);
    const serve = shell(example![1]!);
    let py: Proc | undefined;
    let attempts = 0;
    try {
      await wait(() => serve.stdout.includes('"listening":"ws://127.0.0.1:1978"'), 'client serve to listen', 60_000);
      py = await attempt(
        () => shell(`python3 ${example![2]!}`),
        () => attempts++,
      );
    } finally {
      await interrupt(serve); // through npx: npm's own exit status on SIGINT is not the client's
    }
    const bob = readFileSync(join(NET_DIR, 'clients', 'bob.address'), 'utf8').trim();
    expect(py.stdout).toContain(`my address: ${bob}`);
    expect(py.stdout).toMatch(/'type': 'sent', 'id': 2, 'messageId': '[0-9a-f]{32}'/);
    expect(py.stdout).toContain('received: Hello from Python');
    const stats = JSON.parse(serve.stderr.trim().split('\n').pop()!) as {
      api: { requests: Record<string, number>; errors: Record<string, number> };
    };
    expect(stats.api.requests).toEqual({ selfAddress: attempts, send: attempts });
    expect(stats.api.errors).toEqual({});
  }, 300_000);
});

describe('the packed package', () => {
  it('installs into an empty project, where the README example sends and receives on the network and type-checks', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'loopix-pack-'));
    try {
      // dist/ is fresh (test/global-setup.ts): skip the prepare script's second compile.
      const npm = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) =>
        spawnSync('npm', args, {
          cwd,
          encoding: 'utf8',
          env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', ...env },
        });
      const pack = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], root);
      expect(pack.status, pack.stderr).toBe(0);
      const packed = (JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[])[0]!;
      const paths = packed.files.map((f) => f.path);
      for (const needed of [
        'binding.gyp',
        'bin/loopix.js',
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'dist/src/entries/client.d.ts',
        'dist/src/entries/sphinx.d.ts',
        'docs/client-api.md',
      ]) {
        expect(paths).toContain(needed);
      }
      expect(paths.some((p) => p.startsWith('native/') && p.endsWith('.cc'))).toBe(true);
      expect(paths.some((p) => p.startsWith('test/') || p.startsWith('dist/test/') || p.endsWith('.map'))).toBe(false);

      // An empty project depending on the tarball, its lock file pinning the dependencies to the versions this
      // repository's lock file resolved (so npm installs offline, from its cache).
      const proj = join(tmp, 'app');
      mkdirSync(proj);
      const tgz = `file:../${packed.filename}`;
      const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, Record<string, unknown>>;
      };
      const self = lock.packages['']!;
      const integrity = `sha512-${createHash('sha512')
        .update(readFileSync(join(tmp, packed.filename)))
        .digest('base64')}`;
      const packages: Record<string, unknown> = {
        '': { name: 'app', version: '1.0.0', dependencies: { loopix: tgz } },
        'node_modules/loopix': {
          version: self.version,
          resolved: tgz,
          integrity,
          hasInstallScript: true,
          license: self.license,
          dependencies: self.dependencies,
          bin: self.bin,
          engines: self.engines,
        },
      };
      for (const [k, v] of Object.entries(lock.packages))
        if (k.startsWith('node_modules/') && !v.dev && !v.devOptional && !v.link) packages[k] = v;
      writeFileSync(
        join(proj, 'package.json'),
        JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module', dependencies: { loopix: tgz } }),
      );
      writeFileSync(
        join(proj, 'package-lock.json'),
        JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }),
      );
      // Dependencies' own install scripts are skipped (better-sqlite3 would compile SQLite for minutes, and a
      // client does not use it); loopix's own install script then builds its addon as a user's install does.
      const ci = npm(['ci', '--offline', '--ignore-scripts'], proj);
      expect(ci.status, ci.stderr).toBe(0);
      // The client's store is SQLite (better-sqlite3): its addon is the one this repository's install built for
      // this very Node and platform, copied instead of compiling SQLite again.
      cpSync(
        join(root, 'node_modules', 'better-sqlite3', 'build'),
        join(proj, 'node_modules', 'better-sqlite3', 'build'),
        { recursive: true },
      );
      // JOBS: node-gyp compiles the addon's sources in parallel (make -j, one job per core); same build.
      const rebuild = npm(['rebuild', 'loopix', '--offline'], proj, { JOBS: 'max' });
      expect(rebuild.status, rebuild.stderr).toBe(0);
      expect(existsSync(join(proj, 'node_modules', 'loopix', 'build', 'Release', 'loopix_sphinx.node'))).toBe(true);

      const example = blocks(readme, 'Use it from your program', 'js')[0]!;
      expect(example.trim().split('\n').length).toBeLessThanOrEqual(15);
      writeFileSync(join(proj, 'example.mjs'), example);
      // The README's paths, with fresh key pairs: late arrivals for the earlier tests' alice and bob must not
      // be what the example's bob reads first.
      mkdirSync(join(proj, 'first-net', 'clients'), { recursive: true });
      symlinkSync(join(NET_DIR, 'topology.json'), join(proj, 'first-net', 'topology.json'));
      for (const name of ['alice', 'bob']) {
        copyFileSync(join(NET_DIR, 'clients', `${name}.json`), join(proj, 'first-net', 'clients', `${name}.json`));
        // With the directory authorities the config names the client's own document cache (the client keeps it
        // up to date from the authorities); it starts from the copy the testnet wrote.
        const cache = join(NET_DIR, 'clients', `${name}.topology.json`);
        if (existsSync(cache)) copyFileSync(cache, join(proj, 'first-net', 'clients', `${name}.topology.json`));
        writeKeyFile(join(proj, 'first-net', 'clients', `${name}.key.json`), loadSphinx().backend);
      }
      const run = await attempt(() => shell('node example.mjs', proj, { LOOPIX_SPHINX: 'native' }));
      expect(run.stdout).toMatch(/^Hello from the SDK after \d+ ms\n$/);

      // The declarations: the example checked as JavaScript, and one name from each entry point in TypeScript.
      writeFileSync(
        join(proj, 'entries.mts'),
        [
          "import { LoopixClient, ClientApiServer, loadSphinx } from 'loopix';",
          "import { TopologyIndex, parseAddress, type ReceivedMessage } from 'loopix/client';",
          "import { tsBackend, makeGeometry, type UnwrapResult } from 'loopix/sphinx';",
          "import { createBrowserClient } from 'loopix/browser';",
          'const g = makeGeometry();',
          'const r: UnwrapResult = tsBackend.unwrap(g, new Uint8Array(32), new Uint8Array(g.packetBytes));',
          'const m: ReceivedMessage | undefined = undefined;',
          'export const used = [LoopixClient, ClientApiServer, loadSphinx, TopologyIndex, parseAddress, r.kind, m, createBrowserClient];',
        ].join('\n'),
      );
      // A wrong use must be caught (the declarations are real, not `any`).
      writeFileSync(
        join(proj, 'wrong.mts'),
        "import { clientFromConfigFile } from 'loopix';\nexport const x: number = clientFromConfigFile('x').address;\n",
      );
      // One compiler run for the three files (a second start of tsc costs seconds): its only error must be the
      // wrong use; the example and the entry points check clean.
      const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
      const check = spawnSync(
        process.execPath,
        [
          tsc,
          '--noEmit',
          '--strict',
          '--skipLibCheck',
          '--allowJs',
          '--checkJs',
          '--module',
          'nodenext',
          '--target',
          'es2022',
          '--types',
          'node',
          '--typeRoots',
          join(root, 'node_modules', '@types'),
          'example.mjs',
          'entries.mts',
          'wrong.mts',
        ],
        { cwd: proj, encoding: 'utf8' },
      );
      expect(check.status, check.stdout).not.toBe(0);
      const errors = check.stdout.split('\n').filter((l) => /^\S+\(\d+,\d+\): error /.test(l));
      expect(errors, check.stdout).toEqual([
        expect.stringMatching(/^wrong\.mts\(2,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/),
      ]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 600_000);
});

describe('the loopix command line', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [join(root, 'bin', 'loopix.js'), ...args], { encoding: 'utf8' });

  it('reports errors as one line naming what is wrong, never a stack trace', () => {
    const cases: [string[], RegExp][] = [
      [
        ['client', 'send', '--config', 'first-net/clients/alice.json', '--to', 'x'],
        /^loopix client send: give exactly one of --message TEXT or --file PATH\n$/,
      ],
      [
        ['client', 'send', '--config', 'no-such.json', '--to', 'x', '--message', 'hi'],
        /^loopix client send: (ERR_LOOPIX_CONFIG_\w+: )?config no-such\.json: ENOENT/,
      ],
      [
        ['client', 'send', '--config', 'x', '--to', 'y', '--message', 'm', '--timeout', 'soon'],
        /^error: option '--timeout <s>' argument 'soon' is invalid\. --timeout must be a positive number of seconds, got "soon"\n$/,
      ],
      [
        ['client', 'serve', '--config', join(NET_DIR, 'clients', 'bob.json'), '--host', '0.0.0.0'],
        /^loopix client serve: ERR_LOOPIX_API_OFF_HOST: --host 0\.0\.0\.0 is not a loopback address/,
      ],
      [['client', 'recv', '--config', 'x', '--bogus'], /^error: unknown option '--bogus'\n$/],
    ];
    for (const [args, expected] of cases) {
      const r = cli(args);
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(expected);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  }, 120_000);
});
