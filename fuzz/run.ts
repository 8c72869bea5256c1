// npm run fuzz -- NAME|all [--runs N] [--seed S] [--slow-ms MS] [--json FILE]
//
// Runs the structure-aware fuzzer on one target (or all) and prints, per
// target, inputs per second, outcomes and findings. Exits 1 on any finding
// (an untyped throw, an input slower than --slow-ms, an unbounded need-more).
// Reproduce a finding with the same --seed and --runs.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fuzzTarget, type TargetReport } from './engine.js';
import { TARGETS } from './targets/index.js';

// Stack traces cost more than most decodes; findings are reported by message and input.
Error.stackTraceLimit = 0;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '10000' }, seed: { type: 'string', default: '1' }, 'slow-ms': { type: 'string', default: '100' }, json: { type: 'string' } },
});
const name = positionals[0] ?? 'all';
const chosen = name === 'all' ? TARGETS : TARGETS.filter((target) => target.name === name);
if (chosen.length === 0) {
  console.error(`unknown fuzz target ${name}; targets: all, ${TARGETS.map((target) => target.name).join(', ')}`);
  process.exit(2);
}
const runs = Number(values.runs);
const reports: TargetReport[] = [];
for (const target of chosen) {
  const report = fuzzTarget(target, { runs, seed: Number(values.seed), slowMs: Number(values['slow-ms']) });
  reports.push(report);
  const codes = Object.entries(report.codes).map(([code, count]) => `${code} ${count}`).join(', ');
  console.log(
    `${report.target.padEnd(22)} ${String(report.runs).padStart(9)} inputs ${report.seconds.toFixed(1).padStart(7)} s ${String(report.inputsPerSecond).padStart(8)}/s  ` +
      `value ${report.values}, need-more ${report.needMore}, typed error ${report.typedErrors} (${codes}); slowest ${report.slowestMs.toFixed(1)} ms (stalls not reproduced on re-run: ${report.stalls}); findings ${report.findingCount}`,
  );
  for (const finding of report.findings.slice(0, 5)) console.log(`  ${finding.kind}: ${finding.detail}\n    ${finding.input.slice(0, 240)}`);
}
if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify({ runs, seed: Number(values.seed), reports }, null, 2)}\n`);
process.exit(reports.some((report) => report.findingCount > 0) ? 1 : 0);
