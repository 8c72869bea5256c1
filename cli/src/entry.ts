import { run } from './main.js';

// The program as a process: what bin/lightsout.js (through tsx) and the one-file bundle both start.
process.exitCode = await run(process.argv.slice(2));
