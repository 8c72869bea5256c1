import { spawn as ptySpawn } from 'node-pty';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalTerminals } from './local-terminals.js';

// A real pty (node-pty, built for this Node) running /bin/sh.
describe('LocalTerminals', () => {
  let terminals: LocalTerminals | null = null;
  afterEach(() => terminals?.disposeAll());

  it('runs a shell, passes input and output through, and reports exit', async () => {
    let output = '';
    let sawMarker!: () => void;
    const marker = new Promise<void>((resolve) => (sawMarker = resolve));
    let exited!: (code: number) => void;
    const exit = new Promise<number>((resolve) => (exited = resolve));
    terminals = new LocalTerminals(ptySpawn, {
      data: (_id, data) => {
        output += data;
        if (output.includes('lights-42')) sawMarker();
      },
      exit: (_id, code) => exited(code),
    }, { file: '/bin/sh', args: [] });
    const id = terminals.spawn(80, 24, '/', { PATH: '/usr/bin:/bin', TERM: 'xterm-256color' });
    terminals.resize(id, 100, 30);
    terminals.write(id, 'echo lights-$((40+2))\n');
    await marker;
    terminals.write(id, 'exit 3\n');
    expect(await exit).toBe(3);
    expect(terminals.count).toBe(0);
  });

  it('refuses unknown ids and oversize input', () => {
    terminals = new LocalTerminals(ptySpawn, { data: () => {}, exit: () => {} }, { file: '/bin/sh', args: [] });
    expect(() => terminals!.write(999, 'x')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    const id = terminals.spawn(80, 24, '/', { PATH: '/usr/bin:/bin' });
    expect(() => terminals!.write(id, 'x'.repeat((1 << 20) + 1))).toThrow(expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }));
  });
});
