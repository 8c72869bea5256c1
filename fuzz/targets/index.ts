import type { Target } from '../engine.js';
import { ipmiTargets } from './ipmi.js';
import { relayTargets } from './relay.js';
import { rfbTargets } from './rfb.js';

/** One target per decoder family; `npm run fuzz -- NAME` picks one by name. */
export const TARGETS: Target[] = [...ipmiTargets, ...rfbTargets, ...relayTargets] as Target[];
