#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=4194304:${GLIBC_TUNABLES} node --initial-old-space-size=64
// The CLI runs its TypeScript sources directly through tsx: no build step.
// Operators get the same program as one file: `npm run bundle -w @lightsout/cli`.
import { register } from 'tsx/esm/api';

register();
await import('../src/entry.ts');
