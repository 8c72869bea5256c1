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

const child = spawn(process.execPath, ['--import', 'tsx', join(benchDir, `${name}.ts`), ...args], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
