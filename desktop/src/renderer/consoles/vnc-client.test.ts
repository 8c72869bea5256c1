import { describe, expect, it } from 'vitest';
import { vncClientCommand, vncClientListening } from './vnc-client.js';

describe('Open in VNC client', () => {
  it('in the browser: the CLI command that opens the listener', () => {
    expect(vncClientCommand('sim-01', false)).toBe('lightsout vnc sim-01 --listen 5901');
    expect(vncClientCommand('sim-01', true, 5902)).toBe('lightsout vnc sim-01 --listen 5902 --view-only');
    expect(vncClientCommand("it's; rm", false)).toBe(`lightsout vnc 'it'\\''s; rm' --listen 5901`);
  });

  it('in the desktop: where the VNC client connects', () => {
    expect(vncClientListening({ url: 'vnc://127.0.0.1:45901', clientOpened: true, viewOnly: false })).toBe('Opened your VNC client at 127.0.0.1:45901');
    expect(vncClientListening({ url: 'vnc://127.0.0.1:45901', clientOpened: false, viewOnly: true })).toBe('Connect your VNC client to 127.0.0.1:45901 (view only)');
  });
});
