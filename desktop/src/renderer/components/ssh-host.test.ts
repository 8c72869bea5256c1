import { describe, expect, it } from 'vitest';
import { knownHostsLine, sshCommand, sshHostName } from './ssh-host.js';

describe('the SSH front door as a user writes it', () => {
  it('known_hosts: [host]:port unless the port is 22', () => {
    expect(knownHostsLine('relay.example.net', 2222, 'ssh-ed25519 AAAAC3')).toBe('[relay.example.net]:2222 ssh-ed25519 AAAAC3');
    expect(knownHostsLine('relay.example.net', 22, 'ssh-ed25519 AAAAC3')).toBe('relay.example.net ssh-ed25519 AAAAC3');
  });

  it('the host from the relay URL, and the ssh command', () => {
    expect(sshHostName('https://relay.example.net:8443')).toBe('relay.example.net');
    expect(sshHostName('http://[::1]:8080')).toBe('::1');
    expect(sshCommand('sim-01', 'relay.example.net', 2222)).toBe('ssh -p 2222 sim-01@relay.example.net');
    expect(sshCommand('sim-01', 'relay.example.net', 22)).toBe('ssh sim-01@relay.example.net');
  });
});
