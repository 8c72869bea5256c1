/**
 * `npm run bench -- NAME [args…]` runs bench/NAME.ts. Every benchmark prints a
 * human table and, as its very last line, one JSON object:
 *   {"bench", "metric", "unit", "better", "ours", "baselines": {…}, "params": {…}}
 * with ours and every baseline measured side by side in the same run.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_FLAGS } from '@lightsout/scripts/server-node-flags';

const benchDir = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(benchDir)
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.startsWith('_') && file !== 'run.ts')
  .map((file) => file.slice(0, -3))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.error(name ? `unknown benchmark: ${name}` : 'usage: npm run bench -- NAME [args…]');
  console.error(`available: ${available.join(', ') || '(none yet)'}`);
  process.exit(2);
}

// The benchmark process hosts senders, sinks, the simulated BMCs and the
// baselines' own servers: it streams as much as relay and agent do, so it runs
// with their flags (scripts/lib/server-node-flags.js), and its V8 cannot fall
// into collecting in full every few tens of megabytes under one path and not
// under another.
const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, '--import', 'tsx', join(benchDir, `${name}.ts`), ...args], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
