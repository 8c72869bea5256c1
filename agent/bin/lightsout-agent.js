#!/usr/bin/env node
// In the repository: the compiled agent (npm run build) while it is current,
// the TypeScript sources through tsx otherwise (scripts/lib/start-program.js).
import { startProgram } from '@lightsout/scripts/start-program';

await startProgram(import.meta.url, '../dist/lightsout-agent.mjs', '../src/main.ts');
