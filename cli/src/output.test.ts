import { afterEach, describe, expect, it } from 'vitest';
import { printable, table } from './output.js';
import { relayStubs, runCli } from './testing/relay-stub.js';

/**
 * Text the relay hands on (server names, what a BMC or any device on the
 * scanned network says about itself, error messages) reaches a terminal.
 * ECMA-48 §5 controls in it would be obeyed there: OSC 52 writes the
 * clipboard, CSI moves the cursor, a bidi override reorders what is shown.
 */
const ESC = '\u001b';
const BEL = '\u0007';
const CSI8 = '\u009b';
const OSC8 = '\u009d';
const RLO = '\u202e';
const hostile = `a${ESC}]52;c;Y3VybCBldmlsfHNoCg==${BEL}b${CSI8}2J${OSC8}0;owned${BEL}${RLO}txt.exe`;
const hostileShown = 'a\\x1b]52;c;Y3VybCBldmlsfHNoCg==\\x07b\\x9b2J\\x9d0;owned\\x07\\u202etxt.exe';
/** Every code point that must not reach a terminal raw. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

const stubs = relayStubs();
afterEach(() => stubs.closeAll());

describe('printable', () => {
  it('shows C0 (but newline in free text), DEL, C1 and bidi controls as escapes; other text as is', () => {
    expect(printable(hostile)).toBe(hostileShown);
    expect(printable('a\nb\r\tc\u007f\u0000')).toBe('a\\x0ab\\x0d\\x09c\\x7f\\x00');
    expect(printable('a\nb\r', { newlines: true })).toBe('a\nb\\x0d');
    expect(printable('\u2066\u2069\u202a \u00a0 é 日本 😀 \\x1b')).toBe('\\u2066\\u2069\\u202a \u00a0 é 日本 😀 \\x1b');
  });

  it('table cells never carry a newline or a control: a row stays one row', () => {
    expect(table(['NAME', 'MODEL'], [[`web${ESC}[2J\nfake-row`, `X${RLO}`]])).toBe(`${'NAME'.padEnd('web\\x1b[2J\\x0afake-row'.length)}  MODEL\nweb\\x1b[2J\\x0afake-row  X\\u202e\n`);
  });
});

describe('server-controlled text on the terminal', () => {
  it('servers list, discovered list, identity and an error message print the controls escaped; --json stays JSON', async () => {
    const relay = await stubs.start((seen) => {
      if (seen.url === '/v1/servers') return { status: 200, body: { servers: [{ id: 's1', name: hostile, tenant: 't', region: 'r', datacenter: 'd', rack: 'k', power: 'on', agent: 'online' }] } };
      if (seen.url === '/v1/discovered') {
        return { status: 200, body: { discovered: [{ id: 'd1', address: '10.0.0.9', agentId: 'a', agentName: 'fra1', protocols: ['redfish'], vendor: hostile, model: 'X', lastSeenAt: '2026-01-01T00:00:00Z' }] } };
      }
      if (seen.url === '/v1/servers/s1/identity') return { status: 200, body: { vendor: hostile, model: 'X\nserial       forged', source: 'redfish' } };
      return { status: 500, body: { code: 'INTERNAL', message: `boom ${hostile}`, hint: `try ${hostile}` } };
    });

    const servers = await runCli(['servers', 'list'], relay.url);
    expect(servers.stdout).toBe(`ID  NAME${' '.repeat(hostileShown.length - 4)}  TENANT  REGION  DC  RACK  POWER  AGENT\ns1  ${hostileShown}  t       r       d   k     on     online\n`);

    const discovered = await runCli(['discovered', 'list'], relay.url);
    expect(discovered.stdout).not.toMatch(CONTROL);
    expect(discovered.stdout).toContain(`  ${hostileShown}  X  `);

    const failed = await runCli(['sensors', 's1'], relay.url);
    expect(failed.stderr).toBe(`error INTERNAL: boom ${hostileShown}\nhint: try ${hostileShown}\n`);

    const identity = await runCli(['identity', 's1'], relay.url);
    expect(identity.stdout.split('\n').slice(0, 3)).toEqual([`vendor       ${hostileShown}`, 'model        X\\x0aserial       forged', 'serial       not reported']);

    for (const result of [servers, discovered, failed, identity]) expect(result.stdout + result.stderr).not.toMatch(CONTROL);

    const asJson = await runCli(['servers', 'list', '--json'], relay.url);
    expect(JSON.parse(asJson.stdout).servers[0].name).toBe(hostile);
    // Still JSON, and the controls JSON.stringify leaves raw (DEL, C1, bidi) are escaped too.
    expect(asJson.stdout).not.toMatch(/[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u);
  });
});
