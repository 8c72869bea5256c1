#!/usr/bin/env node
// The relay runs from TypeScript source through tsx: no build step between
// editing and running. tsx is registered here, before the first .ts import.
import { register } from 'tsx/esm/api';

register();
await import('../src/server.ts');
