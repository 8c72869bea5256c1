import { decoded } from '../wire.js';
import { type SecurityType } from './types.js';

// RFC 6143 §7.2.1 None: no messages at all; 3.8 continues with SecurityResult.
export const noneSecurity: SecurityType = {
  type: 1,
  name: 'None',
  // No secret travels anywhere, and nothing can go wrong: always preferred.
  preference: 100,
  resultBefore38: false,
  start: () => ({ opening: undefined, receive: () => decoded({ reply: undefined, done: true }, 0) }),
};
