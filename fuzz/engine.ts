import { LightsoutError } from '@lightsout/shared';

/**
 * A structure-aware fuzzer: every input starts from a valid message (a seed,
 * captured from a real peer where the tests have one) and is mutated a few
 * times, by bytes for binary codecs and by JSON tree for the relay's frames.
 * Each input must end in a value or a LightsoutError; anything else thrown,
 * an input slower than the bound, or a "need more bytes" beyond the target's
 * cap (a peer could make us buffer without end) is a finding.
 */

/** What a decoder run may return: a decoded value, or how many bytes it still wants (streaming decoders). */
export type Outcome = { kind: 'value' } | { kind: 'needMore'; needed: number };

export interface Target<Input extends Uint8Array | string = Uint8Array | string> {
  name: string;
  /** Which decoders, for the report. */
  covers: string;
  kind: Input extends string ? 'text' : 'bytes';
  /** Valid messages; each must decode to a value (checked before fuzzing). */
  seeds(): Input[];
  run(input: Input, random: Random): Outcome;
  /** The largest `needed` a streaming decoder may ask for (its message-size cap). */
  maxNeeded?: number;
}

export interface Finding {
  kind: 'untyped-throw' | 'slow' | 'unbounded-need';
  detail: string;
  /** Hex of the bytes, or the text (cut at 2 KiB). */
  input: string;
}

export interface TargetReport {
  target: string;
  runs: number;
  seconds: number;
  inputsPerSecond: number;
  values: number;
  needMore: number;
  typedErrors: number;
  /** Error codes seen, with counts. */
  codes: Record<string, number>;
  slowestMs: number;
  /**
   * Inputs over the time bound once that ran under it on every one of five
   * re-runs: a stall of the machine (GC, another process), not of the input.
   */
  stalls: number;
  /** Every finding counted; `findings` keeps the first few with their inputs. */
  findingCount: number;
  findings: Finding[];
}

/** mulberry32: fast, seedable, good enough to pick mutations reproducibly. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let value = this.state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 0x100000000;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  chance(probability: number): boolean {
    return this.next() < probability;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

const INTERESTING_8 = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, 0x10, 0x20, 0x40];
const INTERESTING_32 = [0, 1, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 16, 64, 4096, 1 << 20];

/** One byte-level mutation of `bytes` (a fresh array). */
export function mutateBytes(bytes: Uint8Array, random: Random, seeds: readonly Uint8Array[]): Uint8Array {
  const length = bytes.length;
  const at = () => random.int(Math.max(1, length));
  const copy = () => Uint8Array.from(bytes);
  switch (random.int(10)) {
    case 0: {
      if (length === 0) return Uint8Array.of(random.int(256));
      const out = copy();
      out[at()]! ^= 1 << random.int(8);
      return out;
    }
    case 1: {
      if (length === 0) return Uint8Array.of(random.pick(INTERESTING_8));
      const out = copy();
      out[at()] = random.pick(INTERESTING_8);
      return out;
    }
    case 2: {
      // A length or count field: overwrite 2 or 4 bytes, either byte order.
      if (length < 2) return Uint8Array.from([...bytes, random.int(256)]);
      const out = copy();
      const width = length >= 4 && random.chance(0.5) ? 4 : 2;
      const offset = random.int(length - width + 1);
      const value = random.chance(0.3) ? length + random.int(5) - 2 : random.pick(INTERESTING_32);
      const view = new DataView(out.buffer);
      const littleEndian = random.chance(0.5);
      if (width === 4) view.setUint32(offset, value >>> 0, littleEndian);
      else view.setUint16(offset, value & 0xffff, littleEndian);
      return out;
    }
    case 3:
      return bytes.slice(0, random.int(length + 1));
    case 4: {
      const extra = Uint8Array.from({ length: 1 + random.int(64) }, () => random.int(256));
      return concat(bytes, random.chance(0.3) ? bytes : extra);
    }
    case 5: {
      const start = at();
      const end = Math.min(length, start + 1 + random.int(16));
      return concat(bytes.subarray(0, start), bytes.subarray(end));
    }
    case 6: {
      const start = at();
      const inserted = Uint8Array.from({ length: 1 + random.int(16) }, () => random.int(256));
      return concat(concat(bytes.subarray(0, start), inserted), bytes.subarray(start));
    }
    case 7: {
      const other = random.pick(seeds);
      return concat(bytes.subarray(0, at()), other.subarray(random.int(other.length + 1)));
    }
    case 8: {
      const start = at();
      const chunk = bytes.subarray(start, start + 1 + random.int(32));
      return concat(concat(bytes.subarray(0, start), chunk), bytes.subarray(start));
    }
    default:
      return Uint8Array.from({ length: random.int(Math.max(2, length * 2)) }, () => random.int(256));
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Values a hostile peer would put where a field is expected. */
function hostileValue(random: Random): Json {
  switch (random.int(14)) {
    case 0:
      return { toString: 1 };
    case 1:
      return { valueOf: 0, toString: { toString: 0 } };
    case 2:
      return null;
    case 3:
      return random.pick([-1, 0, 1.5, 2 ** 53, -(2 ** 63), 1e308, -0]);
    // Sizes just past the schemas' bounds; the very large ones rarely, so a run stays fast.
    case 4:
      return 'x'.repeat(random.chance(0.02) ? 70_000 : random.pick([0, 1, 64, 65, 129, 513, 4097]));
    case 5:
      return nested(random.chance(0.02) ? 5000 : random.pick([8, 31, 32, 33, 100]));
    case 6:
      return Array.from({ length: random.chance(0.02) ? 10_001 : random.pick([0, 1, 64, 65, 257]) }, () => 's');
    case 7:
      return random.chance(0.5);
    case 8:
      return [];
    case 9:
      return {};
    case 10:
      return '\u0000\ud800';
    case 11:
      return { __proto__: { polluted: true }, constructor: { prototype: 1 } } as unknown as Json;
    case 12:
      return Object.fromEntries(Array.from({ length: random.pick([10, 300]) }, (_, index) => [`k${index}`, index]));
    default:
      return random.pick(['power', 'response', 'request', 'inventory', 'ack', 'resume', 'status']);
  }
}

function nested(depth: number): Json {
  let value: Json = 1;
  for (let level = 0; level < depth; level++) value = level % 2 === 0 ? [value] : { a: value };
  return value;
}

/** One structural mutation of a JSON document: replace, delete or add a node somewhere in the tree. */
function mutateTree(root: Json, random: Random): Json {
  const containers: Array<Json[] | { [key: string]: Json }> = [];
  const walk = (node: Json, depth: number) => {
    if (depth > 40 || node === null || typeof node !== 'object') return;
    containers.push(node);
    for (const child of Array.isArray(node) ? node : Object.values(node)) walk(child, depth + 1);
  };
  walk(root, 0);
  if (containers.length === 0 || random.chance(0.05)) return hostileValue(random);
  const container = random.pick(containers);
  const keys = Array.isArray(container) ? container.map((_, index) => index) : Object.keys(container);
  const key = keys.length > 0 && random.chance(0.85) ? random.pick(keys as Array<string | number>) : random.pick(['type', 'v', 'id', 'op', 'extra', 'servers', 'offset', '__proto__']);
  const target = container as Record<string | number, Json>;
  if (random.chance(0.15)) delete target[key];
  else if (random.chance(0.2) && key in target) target[key] = mutateScalar(target[key]!, random);
  else if (key === '__proto__') Object.defineProperty(target, key, { value: hostileValue(random), enumerable: true, configurable: true, writable: true });
  else target[key] = hostileValue(random);
  return root;
}

function mutateScalar(value: Json, random: Random): Json {
  if (typeof value === 'number') return random.pick([value + 1, value - 1, -value, value * 65536, 0.5]);
  if (typeof value === 'string') return value + value.slice(0, random.int(value.length + 1)) + random.pick(['', '\n', '"', '\\', 'é']);
  if (typeof value === 'boolean') return !value;
  return hostileValue(random);
}

/** One mutation of a JSON frame: mostly by tree (the frame stays JSON), sometimes by characters. */
export function mutateText(text: string, random: Random): string {
  if (random.chance(0.75)) {
    try {
      return JSON.stringify(mutateTree(JSON.parse(text) as Json, random));
    } catch {
      // Not JSON any more after an earlier character mutation: fall through.
    }
  }
  const at = random.int(text.length + 1);
  switch (random.int(5)) {
    case 0:
      return text.slice(0, at);
    case 1:
      return text.slice(0, at) + random.pick(['{', '}', '[', '"', ',', ':', '\\', '\u0000', 'null', '1e999', '-']) + text.slice(at);
    case 2:
      return text.slice(0, at) + text.slice(at + 1 + random.int(8));
    case 3:
      return text.length < 1 << 20 ? text + text : text;
    default:
      return ' '.repeat(random.int(4)) + text;
  }
}

export function concat(left: Uint8Array, right: Uint8Array): Uint8Array {
  const out = new Uint8Array(left.length + right.length);
  out.set(left, 0);
  out.set(right, left.length);
  return out;
}

export interface RunOptions {
  runs: number;
  seed?: number;
  /** Milliseconds one input may take before it is a finding. */
  slowMs?: number;
  /** Stop collecting findings after this many (the counts go on). */
  maxFindings?: number;
}

/** Fuzzes one target: `runs` mutated inputs, every outcome classified. */
export function fuzzTarget<Input extends Uint8Array | string>(target: Target<Input>, options: RunOptions): TargetReport {
  const random = new Random(options.seed ?? 1);
  const slowMs = options.slowMs ?? 100;
  const maxFindings = options.maxFindings ?? 20;
  const seeds = target.seeds();
  for (const [index, seed] of seeds.entries()) {
    const outcome = target.run(seed, random);
    if (outcome.kind !== 'value') throw new Error(`${target.name}: seed ${index} does not decode to a value (${JSON.stringify(outcome)})`);
  }
  const report: TargetReport = { target: target.name, runs: 0, seconds: 0, inputsPerSecond: 0, values: 0, needMore: 0, typedErrors: 0, codes: {}, slowestMs: 0, stalls: 0, findingCount: 0, findings: [] };
  const finding = (kind: Finding['kind'], detail: string, input: Input) => {
    report.findingCount++;
    if (report.findings.length >= maxFindings) return;
    report.findings.push({ kind, detail, input: typeof input === 'string' ? input.slice(0, 2048) : Buffer.from(input.subarray(0, 1024)).toString('hex') });
  };
  const started = performance.now();
  for (let run = 0; run < options.runs; run++) {
    let input = random.pick(seeds);
    // 1–4 stacked mutations; now and then the seed itself, so valid paths stay covered.
    const mutations = random.chance(0.03) ? 0 : 1 + random.int(4);
    for (let step = 0; step < mutations; step++) {
      input = (typeof input === 'string' ? mutateText(input, random) : mutateBytes(input, random, seeds as readonly Uint8Array[])) as Input;
    }
    const before = performance.now();
    try {
      const outcome = target.run(input, random);
      if (outcome.kind === 'value') report.values++;
      else {
        report.needMore++;
        if (target.maxNeeded !== undefined && outcome.needed > target.maxNeeded) finding('unbounded-need', `asks for ${outcome.needed} bytes (cap ${target.maxNeeded})`, input);
      }
    } catch (error) {
      if (error instanceof LightsoutError) {
        report.typedErrors++;
        report.codes[error.code] = (report.codes[error.code] ?? 0) + 1;
      } else {
        finding('untyped-throw', error instanceof Error ? `${error.name}: ${error.message}` : String(error), input);
      }
    }
    const elapsed = performance.now() - before;
    if (elapsed > report.slowestMs) report.slowestMs = elapsed;
    if (elapsed > slowMs) {
      const fastest = fastestOf(5, () => target.run(input, random));
      if (fastest > slowMs) finding('slow', `${elapsed.toFixed(1)} ms, fastest of 5 re-runs ${fastest.toFixed(1)} ms`, input);
      else report.stalls++;
    }
    report.runs++;
  }
  report.seconds = (performance.now() - started) / 1000;
  report.inputsPerSecond = Math.round(report.runs / Math.max(report.seconds, 1e-9));
  return report;
}

/** The fastest of `count` timed runs of `action`; a throw ends a run like a return. */
function fastestOf(count: number, action: () => unknown): number {
  let fastest = Infinity;
  for (let run = 0; run < count; run++) {
    const before = performance.now();
    try {
      action();
    } catch {
      // The outcome was classified on the first run; only the time counts here.
    }
    fastest = Math.min(fastest, performance.now() - before);
  }
  return fastest;
}
