import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { Host, type HostPowerState } from './host.js';

const timings = { postMs: 100, bootMs: 200, shutdownMs: 3000, cycleMs: 50 };
const decoder = new TextDecoder();

function makeHost() {
  const clock = new ManualClock();
  const host = new Host({ hostname: 'node-01', clock, timings });
  const states: HostPowerState[] = [];
  let serial = '';
  host.on('power', (state) => states.push(state));
  host.on('serial', (bytes) => (serial += decoder.decode(bytes)));
  return { clock, host, states, output: () => serial, reset: () => (serial = '') };
}

describe('Host power state machine', () => {
  it('goes off → post → booting → running and prints a login prompt', () => {
    const { clock, host, states, output } = makeHost();
    host.powerOn();
    expect(host.powerState).toBe('post');
    clock.advance(99);
    expect(host.powerState).toBe('post');
    clock.advance(1);
    expect(host.powerState).toBe('booting');
    clock.advance(200);
    expect(states).toEqual(['post', 'booting', 'running']);
    expect(output()).toContain('Booting from disk\r\n');
    expect(output().endsWith('\r\nnode-01 login: ')).toBe(true);
    expect(host.screen.text()).toContain('node-01 login:');
    expect(clock.pendingTimers).toBe(0);
  });

  it('soft off takes shutdownMs, hard off is immediate', () => {
    const { clock, host } = makeHost();
    host.powerOn();
    clock.advance(300);
    host.softOff();
    expect(host.powerState).toBe('shutting-down');
    clock.advance(2999);
    expect(host.poweredOn).toBe(true);
    clock.advance(1);
    expect(host.powerState).toBe('off');
    host.powerOn();
    clock.advance(50);
    host.powerOff();
    expect(host.powerState).toBe('off');
    expect(clock.pendingTimers).toBe(0);
  });

  it('honours a once boot override at the next boot only, and names inserted media', () => {
    const { clock, host, output, reset } = makeHost();
    host.setBootOverride({ device: 'pxe', persistent: false, uefi: false });
    host.powerOn();
    clock.advance(300);
    expect(output()).toContain('Booting from PXE');
    expect(host.bootOverride.device).toBe('none');
    reset();
    host.insertMedia({ name: 'rescue.iso', url: 'http://x/rescue.iso', bytes: 2048 });
    host.setBootOverride({ device: 'cd', persistent: false, uefi: false });
    host.reset();
    clock.advance(300);
    expect(output()).toContain('Booting from virtual CD: rescue.iso\r\n');
    reset();
    host.ejectMedia();
    host.reset();
    clock.advance(300);
    expect(output()).toContain('Booting from disk');
  });

  it('power cycle turns off then on after cycleMs', () => {
    const { clock, host, states } = makeHost();
    host.powerOn();
    clock.advance(300);
    host.powerCycle();
    expect(host.powerState).toBe('off');
    clock.advance(50);
    expect(host.powerState).toBe('post');
    expect(states).toEqual(['post', 'booting', 'running', 'off', 'post']);
  });
});

describe('Host shell', () => {
  it('echoes typed bytes exactly and runs commands', () => {
    const { clock, host, output, reset } = makeHost();
    host.powerOn();
    clock.advance(300);
    reset();
    host.type(new TextEncoder().encode('root\r'));
    expect(output()).toBe("root\r\nWelcome to node-01 (bmcsim simulated host). Type 'help'.\r\nroot@node-01:~# ");
    reset();
    host.type(new TextEncoder().encode('echo hi there\r\n'));
    expect(output()).toBe('echo hi there\r\nhi there\r\nroot@node-01:~# ');
    reset();
    host.type(new TextEncoder().encode('ab\x7f\r'));
    expect(output()).toBe('ab\b \b\r\n-sh: a: command not found\r\nroot@node-01:~# ');
  });

  it('swallows input while off and powers off from the shell', () => {
    const { clock, host, output, reset } = makeHost();
    host.type(new TextEncoder().encode('x'));
    expect(output()).toBe('');
    host.powerOn();
    clock.advance(300);
    host.type(new TextEncoder().encode('root\rpoweroff\r'));
    expect(host.powerState).toBe('shutting-down');
    reset();
    clock.advance(3000);
    expect(output()).toBe('done.\r\nreboot: Power down\r\n');
    expect(host.powerState).toBe('off');
  });
});
