// A child program for processes.test.ts: starts one long-running child with
// spawnTied, prints its pid as JSON and waits to be killed (the test SIGKILLs
// this process to prove the child does not outlive it).
import { spawnTied } from '../processes.js';

const child = spawnTied('/bin/sleep', ['600'], { stdio: 'ignore' });
process.stdout.write(`${JSON.stringify({ pid: child.pid })}\n`);
setInterval(() => undefined, 60_000);
