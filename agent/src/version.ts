import { readFileSync } from 'node:fs';

/** The agent's version as its package declares it, sent in every hello so the relay can show it. */
export const AGENT_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
