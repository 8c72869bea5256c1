import { describe, expect, it } from 'vitest';
import { parseListenAddress } from './console.js';

describe('lightsout vnc --listen [ADDR:]PORT', () => {
  it('listens on loopback when only a port is given', () => {
    expect(parseListenAddress('5901', false)).toEqual({ host: '127.0.0.1', port: 5901, loopback: true });
    expect(parseListenAddress('127.0.0.2:0', false)).toEqual({ host: '127.0.0.2', port: 0, loopback: true });
    expect(parseListenAddress('[::1]:5901', false)).toEqual({ host: '::1', port: 5901, loopback: true });
    expect(parseListenAddress('localhost:5901', false)).toMatchObject({ host: 'localhost', loopback: true });
  });

  it('refuses another address unless --allow-remote was given', () => {
    expect(() => parseListenAddress('0.0.0.0:5901', false)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST', message: expect.stringContaining('not a loopback address') }));
    expect(() => parseListenAddress('[::]:5901', false)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(parseListenAddress('0.0.0.0:5901', true)).toEqual({ host: '0.0.0.0', port: 5901, loopback: false });
    expect(parseListenAddress('[::]:5901', true)).toEqual({ host: '::', port: 5901, loopback: false });
  });

  it('refuses what is not a port', () => {
    for (const text of ['', 'abc', '70000', '1.2.3.4:', ':5901', '[::1:5901']) expect(() => parseListenAddress(text, true), text).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });
});
