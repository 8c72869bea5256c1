#!/usr/bin/env node
// In the repository: the compiled relay (npm run build) while it is current,
// the TypeScript sources through tsx otherwise (scripts/lib/start-program.js).
import { startProgram } from '@lightsout/scripts/start-program';

await startProgram(import.meta.url, '../dist/lightsout-relay.mjs', '../src/server.ts');
