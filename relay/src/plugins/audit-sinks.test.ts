import { type RsyslogPeer, startRsyslog } from '@lightsout/lab';
import { LightsoutError } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../config/load.js';
import { loginWithPassword, startRelay } from '../testing/index.js';
import { waitFor } from '@lightsout/lab/wait';

/** The audit actions rsyslog received, in order. */
function actions(peer: RsyslogPeer): string[] {
  return peer.parsed().map((message) => message.msgId);
}

describe('the relay streams its audit chain to a SIEM (Debian rsyslog over TLS)', () => {
  let rsyslog: RsyslogPeer;
  beforeAll(async () => {
    rsyslog = await startRsyslog({ tls: true });
  }, 60_000);
  afterAll(async () => {
    await rsyslog?.remove();
  });

  it('sends a sign-in at once, and what the receiver missed while it was down after a relay restart', async () => {
    const sink = { name: 'siem', type: 'syslog', url: rsyslog.url, caFile: rsyslog.caFile, serverName: 'localhost' };
    const relay = await startRelay({ config: { audit: { sinks: [sink], pollMs: 200 } } });
    let dataDir: string | undefined;
    let again: Awaited<ReturnType<typeof startRelay>> | undefined;
    try {
      await loginWithPassword(relay.url, relay.credentials.operator.username, relay.credentials.operator.password);
      await waitFor('the sign-in at the receiver', () => actions(rsyslog).includes('login'), { timeoutMs: 15_000 });
      const metrics = await relay.app.metrics.registry.getSingleMetricAsString('lightsout_audit_sink_forwarded_total');
      expect(metrics).toMatch(/lightsout_audit_sink_forwarded_total\{sink="siem"\} [1-9]/);

      // The receiver goes down; a failed sign-in is audited; the relay stops before it could send it.
      await rsyslog.stop();
      const received = rsyslog.parsed().length;
      await expect(loginWithPassword(relay.url, relay.credentials.operator.username, 'not-the-password')).rejects.toThrow();
      dataDir = relay.dataDir;
      await relay.app.close();
      await rsyslog.start();
      again = await startRelay({ dataDir, port: relay.port, config: { audit: { sinks: [sink], pollMs: 200 } } });
      await waitFor('the failed sign-in, sent after the restart', () => rsyslog.parsed().slice(received).some((message) => message.msgId === 'login' && message.structuredData.includes('outcome="failure"')), { timeoutMs: 20_000 });
    } finally {
      await again?.close();
      if (dataDir === undefined) await relay.close();
    }
  }, 120_000);

  it('refuses a configuration with two sinks of one name, or a sink that is not tcp/tls/https', () => {
    const twice = { audit: { sinks: [{ name: 'a', type: 'syslog', url: 'tcp://127.0.0.1:514' }, { name: 'a', type: 'https', url: 'https://siem.example/ingest' }] } };
    return Promise.all([
      startRelay({ config: twice }).then(
        (relay) => relay.close().then(() => expect.fail('started')),
        (error: unknown) => expect((error as LightsoutError).code).toBe('CONFIG_INVALID'),
      ),
      expect(() => resolveConfig({ audit: { sinks: [{ name: 'b', type: 'syslog', url: 'udp://127.0.0.1:514' }] } })).toThrow(LightsoutError),
      expect(() => resolveConfig({ audit: { sinks: [{ name: 'c', type: 'https', url: 'http://siem.example/ingest' }] } })).toThrow(LightsoutError),
    ]);
  });
});
