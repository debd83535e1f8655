/**
 * A short run of the fuzzer in CI (`npm run fuzz` runs 1,000,000 inputs by default): the corpus in
 * test/fuzz-corpus replayed first (pinned outcomes included), then random and mutated inputs into every
 * target. Any crash fails the suite.
 */
import { describe, expect, it } from 'vitest';
import { defaultCorpusDir, loadCorpus } from '../src/fuzz/corpus.js';
import { fuzzTargets, runFuzz } from '../src/fuzz/fuzz.js';
import { FuzzRunner, type FuzzTarget } from '../src/fuzz/harness.js';
import { makeRng } from '../src/fuzz/rng.js';
import { LINK_INPUT_KINDS, linkTarget, type LinkInputKind } from '../src/fuzz/link.js';
import { native, ts } from './helpers/backends.js';

describe('fuzzer', () => {
  it('replays the corpus, then finds no crash and no native/TypeScript disagreement in 30,000 inputs across every target', () => {
    const corpus = loadCorpus(defaultCorpusDir()!);
    const report = runFuzz({ iterations: 30_000, seed: 20261121, native, ts });
    expect(report.crashes).toEqual([]);
    expect(report.crashCount).toBe(0);
    expect(report.corpusInputs).toBe(corpus.length);
    expect(report.inputs).toBeGreaterThanOrEqual(30_000 + corpus.length);
    const names = fuzzTargets(native, ts, 1).map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'native-unwrap-mutated',
        'differential-unwrap',
        'ws-session',
        'config-parser',
        'topology-verifier',
        'directory-objects',
      ]),
    );
    for (const name of names) expect(report.byTarget[name], name).toBeGreaterThan(0);
    expect(report.byTarget['differential-unwrap']).toBeGreaterThanOrEqual(300);
    expect(report.byTarget['ws-session']).toBeGreaterThanOrEqual(6000);
  });

  it('link-open reaches every class of link framing input, and each ends as the link layer must end it', () => {
    const target = linkTarget(native, makeRng(7));
    const rng = makeRng(8);
    const outcomes = new Map<LinkInputKind, Map<string, number>>();
    for (let i = 0; i < 4000; i++) {
      const input = target.generate(rng);
      const outcome = target.check(input); // throws on an oracle violation (forgery, replay, window, twin mismatch)
      if (input.from !== 'peer') {
        expect(outcome, input.kind).not.toBe('ok');
        continue;
      }
      const byOutcome = outcomes.get(input.kind) ?? new Map<string, number>();
      byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
      outcomes.set(input.kind, byOutcome);
    }
    const seen = (kind: LinkInputKind) => [...(outcomes.get(kind)?.keys() ?? [])].sort();
    expect([...outcomes.keys()].sort()).toEqual(LINK_INPUT_KINDS.filter((k) => k !== 'unknown').sort());
    expect(seen('fresh')).toEqual(['ok']);
    expect(seen('resend')).toEqual(['link_replay', 'ok']);
    // Seals older than the window: refused once a newer one was accepted (here: from the first input on).
    expect(seen('stale')).toEqual(['link_replay']);
    for (const kind of ['flip', 'header-flip', 'tag-flip', 'epoch', 'sequence'] as const)
      expect(seen(kind), kind).toEqual(['link_unauthenticated']);
    expect(seen('truncate')).toEqual(['bad_size']);
    expect(seen('extend')).toEqual(['bad_size']);
    expect(seen('random')).not.toContain('ok');
  });

  it('keeps a corpus for every target, and pins the outcomes of hand-written inputs and past findings', () => {
    const corpus = loadCorpus(defaultCorpusDir()!);
    const names = fuzzTargets(native, ts, 1).map((t) => t.name);
    for (const name of names)
      expect(
        corpus.some((e) => e.target === name),
        name,
      ).toBe(true);
    const pinned = corpus.filter((e) => e.expect !== undefined);
    expect(pinned.map((e) => e.expect)).toEqual(
      expect.arrayContaining([
        'sign-refused:nodes[]',
        'open:challenge,error3:closed',
        'open:challenge,authOk,error7:closed',
        'open:challenge,authOk,pullReply,error7:closed',
      ]),
    );
  });

  it('records a crash with its input and a changed pinned outcome as a crash', () => {
    const target: FuzzTarget<{ n: number }> = {
      name: 't',
      share: 1,
      generate: (r) => ({ n: r.int(10) }),
      check: (i) => {
        if (i.n === 3) throw new TypeError('three');
        return i.n % 2 ? 'odd' : 'even';
      },
      toJson: (i) => i,
      fromJson: (j) => j as { n: number },
    };
    const runner = new FuzzRunner(true);
    runner.replay([target], [{ target: 't', file: 'a', input: { n: 4 }, expect: 'odd' }]);
    runner.generate(target, makeRng(1), 200);
    expect(runner.crashes[0]).toEqual({ target: 't', message: 'Error: outcome even, expected odd', input: '{"n":4}' });
    expect(runner.crashes.slice(1).every((c) => c.message === 'TypeError: three' && c.input === '{"n":3}')).toBe(true);
    expect(runner.crashes.length).toBeGreaterThan(1);
    expect(runner.interesting.map((i) => i.outcome).sort()).toEqual(['even', 'odd']);
  });
});
