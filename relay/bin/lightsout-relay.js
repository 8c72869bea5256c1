#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=4194304:${GLIBC_TUNABLES} node --initial-old-space-size=64
// In the repository: the compiled relay (npm run build) while it is current,
// the TypeScript sources through tsx otherwise (scripts/lib/start-program.js).
// Run directly, it has the servers' Node flags (scripts/lib/server-node-flags.js); `node bin/…` must pass them.
import { startProgram } from '@lightsout/scripts/start-program';

await startProgram(import.meta.url, '../dist/lightsout-relay.mjs', '../src/server.ts');
