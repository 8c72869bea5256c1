import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from './loopback.js';

describe('isLoopbackHost', () => {
  it('takes 127.0.0.0/8, ::1 (bracketed or not), localhost and *.localhost, and nothing else', () => {
    for (const host of ['127.0.0.1', '127.9.8.7', '[::1]', '::1', 'localhost', 'relay.localhost', 'LOCALHOST']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['10.0.0.7', '[fd00::1]', 'relay.example', '127.0.0.1.nip.io', 'localhost.example', '128.0.0.1']) expect(isLoopbackHost(host)).toBe(false);
  });
});
