import type { AuditRecord } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { headerField, octetCountedFrame, paramValue, syslogMessage } from './rfc5424.js';

const identity = { hostname: 'relay-1.example.net', appName: 'lightsout', procId: 'replica-7', facility: 13, sdId: 'lightsout@32473' };
const record: AuditRecord = {
  seq: 42,
  time: Date.UTC(2026, 11, 5, 7, 30, 1, 234),
  subject: 'user-1',
  tenant: 'demo',
  action: 'power.cycle',
  target: 'server:sim-01',
  outcome: 'success',
  sourceIp: '127.0.0.1',
  correlationId: null,
  details: { note: 'a "quoted" ] \\ value', name: 'Jürgen' },
  prevHash: 'a'.repeat(64),
  hash: 'b'.repeat(64),
};

describe('audit records as RFC 5424 syslog messages', () => {
  it('writes the header, the structured data and the record, byte for byte', () => {
    expect(syslogMessage(record, identity)).toBe(
      `<109>1 2026-12-05T07:30:01.234Z relay-1.example.net lightsout replica-7 power.cycle [lightsout@32473 seq="42" outcome="success" tenant="demo" subject="user-1" target="server:sim-01" sourceIp="127.0.0.1" hash="${'b'.repeat(64)}" prevHash="${'a'.repeat(64)}"] \ufeff${JSON.stringify(record)}`,
    );
    // The JSON keys in chain order whatever the object's own order.
    const { hash, ...rest } = record;
    expect(syslogMessage({ hash, ...rest }, identity)).toBe(syslogMessage(record, identity)
    );
  });

  it('makes a refusal a warning (severity 4) and a success a notice (5), in the configured facility', () => {
    expect(syslogMessage({ ...record, outcome: 'denied' }, identity).startsWith('<108>1 ')).toBe(true);
    expect(syslogMessage({ ...record, outcome: 'failure' }, { ...identity, facility: 10 }).startsWith('<84>1 ')).toBe(true);
  });

  it('escapes ", \\ and ] in parameter values (§6.3.3) and leaves out null fields', () => {
    expect(paramValue('a"b\\c]d')).toBe('a\\"b\\\\c\\]d');
    const message = syslogMessage({ ...record, subject: 'x"]\\', tenant: null }, identity);
    expect(message).toContain(' subject="x\\"\\]\\\\" ');
    expect(message).not.toContain('tenant=');
  });

  it('keeps header fields printable US-ASCII within their lengths, "-" when empty (§6)', () => {
    expect(headerField('login ok\n', 32)).toBe('login_ok_');
    expect(headerField('', 48)).toBe('-');
    expect(headerField(null, 48)).toBe('-');
    expect(headerField('x'.repeat(40), 32)).toBe('x'.repeat(32));
    expect(headerField('Jürgen', 48)).toBe('J_rgen');
  });

  it('frames by octets, not characters (RFC 6587 §3.4.1)', () => {
    const frame = octetCountedFrame('ü\ufeff');
    expect(frame.toString('latin1')).toBe(`5 ${Buffer.from('ü\ufeff', 'utf8').toString('latin1')}`);
    const message = syslogMessage(record, identity);
    const framed = octetCountedFrame(message);
    const space = framed.indexOf(0x20);
    expect(Number(framed.subarray(0, space).toString('ascii'))).toBe(framed.length - space - 1);
    expect(framed.subarray(space + 1).toString('utf8')).toBe(message);
  });
});
