import { LightsoutError } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzTarget, type Target } from './engine.js';
import { TARGETS } from './targets/index.js';

// The short pass CI runs of the fuzz campaign (npm run fuzz -- NAME --runs N
// for the long one, docs/benchmarks.md): 2,000 mutated inputs per decoder,
// each of which must end in a value or a typed error, fast, without asking
// for more bytes than the codec's cap.

const RUNS = 2000;
let stackTraceLimit: number;
beforeAll(() => {
  // Refusals are counted, not read: skip building their stack traces.
  stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
});
afterAll(() => {
  Error.stackTraceLimit = stackTraceLimit;
});

describe('every decoder ends each mutated input in a value or a typed error', () => {
  it.each(TARGETS.map((target) => [target.name, target] as const))('%s', (_name, target) => {
    const report = fuzzTarget(target, { runs: RUNS, seed: 7, slowMs: 250 });
    expect(report.findings, JSON.stringify(report.findings.slice(0, 3))).toEqual([]);
    expect(report.findingCount).toBe(0);
    expect(report.runs).toBe(RUNS);
    expect(report.values).toBeGreaterThan(0);
  });
});

describe('the harness reports what it must', () => {
  const seeds = () => [Uint8Array.of(1, 2, 3, 4)];
  it('an untyped throw, with the input that caused it', () => {
    const target: Target<Uint8Array> = {
      name: 'broken',
      covers: 'a decoder that trusts its length byte',
      kind: 'bytes',
      seeds,
      run(bytes) {
        if (bytes.length !== 4) throw new RangeError('offset is outside the bounds of the DataView');
        return { kind: 'value' };
      },
    };
    const report = fuzzTarget(target, { runs: 200, seed: 1 });
    expect(report.findingCount).toBeGreaterThan(0);
    expect(report.findings[0]).toMatchObject({ kind: 'untyped-throw', detail: expect.stringContaining('RangeError') });
  });

  it('a typed refusal is not a finding; a need-more beyond the cap is', () => {
    const target: Target<Uint8Array> = {
      name: 'greedy',
      covers: 'a streaming decoder that believes any length',
      kind: 'bytes',
      seeds,
      maxNeeded: 1024,
      run(bytes) {
        if (bytes.length === 4) return { kind: 'value' };
        if (bytes.length === 0) throw new LightsoutError('MALFORMED_MESSAGE', 'empty');
        return { kind: 'needMore', needed: (bytes[0]! << 24) >>> 0 };
      },
    };
    const report = fuzzTarget(target, { runs: 500, seed: 3 });
    expect(report.findings.every((finding) => finding.kind === 'unbounded-need')).toBe(true);
    expect(report.findingCount).toBeGreaterThan(0);
  });

  it('an input slower than the bound', () => {
    const target: Target<Uint8Array> = {
      name: 'slow',
      covers: 'a decoder that spins on one input',
      kind: 'bytes',
      seeds,
      run(bytes) {
        if (bytes[0] === 0xff) {
          const until = performance.now() + 30;
          while (performance.now() < until) {
            /* spin */
          }
        }
        return { kind: 'value' };
      },
    };
    const report = fuzzTarget(target, { runs: 300, seed: 5, slowMs: 20 });
    expect(report.findings.some((finding) => finding.kind === 'slow')).toBe(true);
  });
});
