#!/usr/bin/env node
// The agent runs its TypeScript sources directly through tsx: no build step
// between a commit and a running agent.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
