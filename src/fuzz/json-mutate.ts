/**
 * Structure-aware mutation of JSON values (config files, topology documents): pick a random place in the
 * tree and delete it, replace it with a random value of any JSON type, nudge a number to a boundary, damage
 * a string, add an unknown key, or change a container's type. Inputs stay JSON (what a file can hold), plus
 * -0 and out-of-range numbers.
 */
import type { Rng } from './rng.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  1.5,
  2,
  7,
  8,
  15,
  16,
  31,
  32,
  33,
  63,
  64,
  65,
  255,
  256,
  1023,
  1024,
  1025,
  1472,
  65535,
  65536,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  1e-9,
  1e9,
  1e21,
  1e308,
  -1e308,
  5e-324,
];
const STRINGS = [
  '',
  ' ',
  '0',
  '00',
  'ff',
  'FF',
  'g',
  'x'.repeat(300),
  '\u0000',
  '\u00e9',
  '\ud83d\ude00',
  '__proto__',
  'constructor',
  'ws://',
  'ws://127.0.0.1:1',
  'wss://h',
  'http://x',
  'mix',
  'provider',
  'ed25519',
  'open',
  'closed',
  'info',
  'true',
  'null',
  '-1',
  '1e9',
  '../../etc/passwd',
];
const KEYS = ['__proto__', 'constructor', 'prototype', 'extra', 'id', 'port', 'host', 'layer', 'role', 'value', ''];

/** A random JSON value, at most `depth` levels deep. */
export function randomJson(rng: Rng, depth = 2): Json {
  switch (rng.int(depth > 0 ? 9 : 6)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(NUMBERS);
    case 3:
      return rng.int(2) ? rng.int(100_000) - 1000 : (rng.int(2_000_000) - 1_000_000) / 1000;
    case 4:
      return rng.pick(STRINGS);
    case 5:
      return Buffer.from(rng.bytes(rng.int(40))).toString(rng.chance(0.7) ? 'hex' : 'latin1');
    case 6:
    case 7:
      return Array.from({ length: rng.int(4) }, () => randomJson(rng, depth - 1));
    default: {
      const o: { [k: string]: Json } = {};
      for (let n = rng.int(4); n > 0; n--) o[rng.pick(KEYS)] = randomJson(rng, depth - 1);
      return o;
    }
  }
}

interface Slot {
  readonly parent: Json[] | { [k: string]: Json } | null;
  readonly key: string | number | null;
  readonly value: Json;
}

function slots(root: Json): Slot[] {
  const out: Slot[] = [{ parent: null, key: null, value: root }];
  const walk = (v: Json) => {
    if (Array.isArray(v)) {
      v.forEach((c, i) => {
        out.push({ parent: v, key: i, value: c });
        walk(c);
      });
    } else if (v && typeof v === 'object') {
      for (const [k, c] of Object.entries(v)) {
        out.push({ parent: v, key: k, value: c });
        walk(c);
      }
    }
  };
  walk(root);
  return out;
}

function nudge(rng: Rng, v: Json): Json {
  if (typeof v === 'number') {
    return rng.pick([v + 1, v - 1, -v, v * 2, v / 2, v + 0.5, 0, -0, v * 1e6, Math.floor(v / 256), rng.pick(NUMBERS)]);
  }
  if (typeof v === 'string') {
    switch (rng.int(7)) {
      case 0:
        return v.slice(0, rng.int(v.length + 1));
      case 1:
        return v + rng.pick(['0', 'a', 'G', ' ', '\u0000', v]);
      case 2:
        return v.toUpperCase();
      case 3: {
        if (v.length === 0) return 'a';
        const i = rng.int(v.length);
        return v.slice(0, i) + rng.pick(['0', 'f', 'z', '-', ':', '.']) + v.slice(i + 1);
      }
      case 4:
        return Number.isNaN(Number(v)) ? v.length : Number(v);
      default:
        return rng.pick(STRINGS);
    }
  }
  if (typeof v === 'boolean') return !v;
  return randomJson(rng);
}

/** Replaces (or, with undefined, deletes) the value in slot `s` below the root. */
function put(s: Slot, value: Json | undefined): void {
  if (s.parent === null) return;
  if (Array.isArray(s.parent)) {
    if (value === undefined) s.parent.splice(s.key as number, 1);
    else s.parent[s.key as number] = value;
  } else if (value === undefined) delete s.parent[s.key as string];
  // defineProperty, not assignment: a key named __proto__ must become an own property, as JSON.parse makes it.
  else
    Object.defineProperty(s.parent, s.key as string, { value, enumerable: true, writable: true, configurable: true });
}

const defineKey = (o: { [k: string]: Json }, k: string, value: Json): void => {
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
};

/** 1–3 mutations of a deep copy of `value` (JSON); `value` itself is not changed. */
export function mutateJson(rng: Rng, value: unknown): unknown {
  let root = JSON.parse(JSON.stringify(value)) as Json;
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const all = slots(root);
    // Prefer leaves deep in the tree: that is where the field checks are.
    const s = rng.chance(0.8)
      ? all[all.length - 1 - rng.int(Math.min(all.length, 1 + rng.int(all.length)))]!
      : rng.pick(all);
    const replace = (v: Json | undefined): void => {
      if (s.parent === null) root = v === undefined ? null : v;
      else put(s, v);
    };
    switch (rng.int(8)) {
      case 0:
        replace(undefined); // delete
        break;
      case 1:
      case 2:
      case 3:
        replace(nudge(rng, s.value));
        break;
      case 4:
        replace(randomJson(rng));
        break;
      case 5: {
        // an unknown (or dangerous) key next to the known ones
        const target = s.value && typeof s.value === 'object' && !Array.isArray(s.value) ? s.value : s.parent;
        if (target && !Array.isArray(target)) defineKey(target, rng.pick(KEYS), randomJson(rng, 1));
        break;
      }
      case 6:
        // container type swaps: object ↔ array, value → [value]
        replace(
          Array.isArray(s.value)
            ? Object.fromEntries(s.value.map((v, i) => [String(i), v]))
            : s.value && typeof s.value === 'object'
              ? Object.values(s.value)
              : [s.value],
        );
        break;
      default:
        if (Array.isArray(s.value) && s.value.length > 0) {
          const a = s.value;
          if (rng.chance(0.5))
            a.push(JSON.parse(JSON.stringify(rng.pick(a))) as Json); // duplicate an element
          else a.reverse();
        } else replace(nudge(rng, s.value));
    }
  }
  return root;
}
