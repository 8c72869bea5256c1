import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RsyslogPeer, startRsyslog } from '@lightsout/lab';
import type { AuditRecord } from '@lightsout/shared';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../store/open.js';
import { waitFor } from '@lightsout/lab/wait';
import { appendChained, readAudit } from '../chain.js';
import { AuditForwarder, type ForwarderOptions } from './forwarder.js';
import { HttpsTransport } from './https-transport.js';
import { syslogMessage } from './rfc5424.js';
import { SyslogTransport } from './syslog-transport.js';
import type { SinkTransport } from './transport.js';

const identity = { hostname: 'relay-test', appName: 'lightsout', procId: 'replica-a', facility: 13, sdId: 'lightsout@32473' };
const quiet = { info: () => undefined, warn: () => undefined };
const directory = mkdtempSync(join(tmpdir(), 'lightsout-siem-'));
let storeCount = 0;
const stores: Store[] = [];
const forwarders: AuditForwarder[] = [];

async function freshStore(): Promise<Store> {
  storeCount += 1;
  const store = await openStore({ dataDir: join(directory, `store-${storeCount}`), store: { driver: 'sqlite', sqliteFile: 'relay.sqlite' } });
  stores.push(store);
  return store;
}

async function append(store: Store, count: number, action = 'login'): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for (let index = 0; index < count; index += 1) {
    records.push(await appendChained(store, 'sqlite', { time: Date.now(), subject: `user-${index}`, tenant: 'demo', action, target: `server:sim-${index % 8}`, outcome: index % 5 === 0 ? 'denied' : 'success', sourceIp: '127.0.0.1', correlationId: null, details: { index, text: 'ü "quoted" ]' } }));
  }
  return records;
}

function forward(store: Store, transport: SinkTransport, options: Partial<ForwarderOptions> = {}, observer?: ConstructorParameters<typeof AuditForwarder>[4]): AuditForwarder {
  const forwarder = new AuditForwarder(store, transport, { sink: 'siem', holder: 'replica-a', batch: 500, leaseMs: 3000, pollMs: 200, startAt: 'beginning', maxBackoffMs: 1000, ...options }, quiet, observer);
  forwarders.push(forwarder);
  forwarder.start();
  return forwarder;
}

async function storedCursor(store: Store, sink = 'siem'): Promise<number | undefined> {
  const row = await store.selectFrom('audit_sink_cursors').select('seq').where('sink', '=', sink).executeTakeFirst();
  return row === undefined ? undefined : Number(row.seq);
}

/** Each seq rsyslog received, in order of arrival. */
function seqsIn(peer: RsyslogPeer): number[] {
  return peer.parsed().map((message) => Number(/ seq="(\d+)"/.exec(message.structuredData)?.[1]));
}

afterEach(async () => {
  await Promise.all(forwarders.splice(0).map((forwarder) => forwarder.close()));
});
afterAll(async () => {
  await Promise.all(stores.map((store) => store.destroy()));
  rmSync(directory, { recursive: true, force: true });
});

describe('audit records to a syslog receiver (Debian rsyslog)', () => {
  let tcp: RsyslogPeer;
  let tls: RsyslogPeer;
  beforeAll(async () => {
    [tcp, tls] = await Promise.all([startRsyslog(), startRsyslog({ tls: true })]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([tcp?.remove(), tls?.remove()]);
  });

  it('over TCP: every record once, in chain order, byte for byte, and rsyslog parses each as RFC 5424', async () => {
    const store = await freshStore();
    const records = await append(store, 1200);
    const before = tcp.raw().length;
    forward(store, new SyslogTransport({ url: tcp.url }, identity));
    await waitFor('rsyslog to receive 1,200 records', () => tcp.raw().length - before >= 1200, { timeoutMs: 30_000 });
    expect(tcp.raw().slice(before)).toEqual(records.map((record) => syslogMessage(record, identity)));
    const parsed = tcp.parsed().slice(before);
    expect(parsed.map((message) => message.msgId)).toEqual(records.map(() => 'login'));
    expect(parsed[0]).toMatchObject({ pri: 13 * 8 + 4, hostname: 'relay-test', appName: 'lightsout', procId: 'replica-a' });
    expect(parsed[1]!.pri).toBe(13 * 8 + 5);
    expect(parsed[7]!.structuredData).toBe(`[lightsout@32473 seq="8" outcome="success" tenant="demo" subject="user-7" target="server:sim-7" sourceIp="127.0.0.1" hash="${records[7]!.hash}" prevHash="${records[6]!.hash}"]`);
    expect(JSON.parse(parsed[7]!.msg.replace(/^\ufeff/, ''))).toEqual(records[7]);
    // Delivered once the connection stayed up past the confirmation window.
    await waitFor('the stored cursor to reach 1,200', async () => (await storedCursor(store)) === 1200, { timeoutMs: 10_000 });
  }, 60_000);

  it('over TLS, verifying the receiver against its CA; a receiver the sink does not trust gets nothing', async () => {
    const store = await freshStore();
    const records = await append(store, 20, 'power.cycle');
    const before = tls.raw().length;
    let failures = 0;
    const untrusted = await freshStore();
    await append(untrusted, 5);
    forward(untrusted, new SyslogTransport({ url: tls.url }, identity), { sink: 'untrusted' }, { forwarded: () => undefined, failed: () => (failures += 1), lag: () => undefined });
    forward(store, new SyslogTransport({ url: tls.url, caFile: tls.caFile, serverName: 'localhost' }, identity));
    await waitFor('rsyslog (TLS) to receive 20 records', () => tls.raw().length - before >= 20, { timeoutMs: 30_000 });
    await waitFor('the untrusted receiver to be refused twice', () => failures >= 2, { timeoutMs: 10_000 });
    expect(tls.raw().slice(before)).toEqual(records.map((record) => syslogMessage(record, identity)));
    expect(await storedCursor(untrusted, 'untrusted')).toBe(0);
  }, 60_000);

  it('keeps what was appended while the receiver was down and sends it when it is back', async () => {
    const store = await freshStore();
    const first = await append(store, 10);
    const before = tcp.raw().length;
    let failures = 0;
    forward(store, new SyslogTransport({ url: tcp.url }, identity), {}, { forwarded: () => undefined, failed: () => (failures += 1), lag: () => undefined });
    await waitFor('the first 10 records', () => tcp.raw().length - before >= 10, { timeoutMs: 20_000 });
    await tcp.stop();
    const during = await append(store, 40);
    await waitFor('a failed send while rsyslog is down', () => failures >= 1, { timeoutMs: 20_000 });
    await tcp.start();
    const all = [...first, ...during].map((record) => record.seq);
    await waitFor('every record after the outage', () => all.every((seq) => seqsIn(tcp).includes(seq)), { timeoutMs: 30_000 });
    await waitFor('the cursor past the last record', async () => (await storedCursor(store)) === all.at(-1), { timeoutMs: 10_000 });
  }, 90_000);

  it('across a restart, starts from the stored cursor; a crashed holder is taken over when its lease lapses', async () => {
    const store = await freshStore();
    const records = await append(store, 30);
    const before = tcp.parsed().length;
    // A replica that died holding the lease, having delivered the first 10.
    await store.insertInto('audit_sink_cursors').values({ sink: 'siem', seq: 10, holder: 'dead-replica', lease_until: Date.now() + 1500 }).execute();
    const started = Date.now();
    forward(store, new SyslogTransport({ url: tcp.url }, identity), { holder: 'replica-b' });
    await waitFor('the 20 records after the cursor', () => tcp.parsed().length - before >= 20, { timeoutMs: 20_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(seqsIn(tcp).slice(before)).toEqual(records.slice(10).map((record) => record.seq));
  }, 60_000);

  it('one replica forwards at a time; when it stops, the other carries on from the cursor', async () => {
    const store = await freshStore();
    const records = await append(store, 50);
    const before = tcp.parsed().length;
    const a = forward(store, new SyslogTransport({ url: tcp.url }, identity), { holder: 'replica-a' });
    await waitFor('A to send 50', () => tcp.parsed().length - before >= 50, { timeoutMs: 20_000 });
    await waitFor('A to confirm 50', async () => (await storedCursor(store)) === 50, { timeoutMs: 10_000 });
    const b = forward(store, new SyslogTransport({ url: tcp.url }, identity), { holder: 'replica-b' });
    const more = await append(store, 25);
    await waitFor('25 more', () => tcp.parsed().length - before >= 75, { timeoutMs: 20_000 });
    expect(b.status.state).toBe('standby');
    await waitFor('A to confirm 75', async () => (await storedCursor(store)) === 75, { timeoutMs: 10_000 });
    await a.close();
    const last = await append(store, 5);
    await waitFor('B to take over', () => tcp.parsed().length - before >= 80, { timeoutMs: 20_000 });
    expect(seqsIn(tcp).slice(before)).toEqual([...records, ...more, ...last].map((record) => record.seq));
  }, 60_000);
});

describe('audit records to an HTTPS collector as JSON lines', () => {
  it('POSTs each batch with the configured token, retries a refusal, and moves the cursor on 2xx only', async () => {
    const tlsDirectory = mkdtempSync(join(directory, 'collector-'));
    const keyFile = join(tlsDirectory, 'key.pem');
    const certFile = join(tlsDirectory, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const received: Array<{ authorization: string | undefined; type: string | undefined; lines: AuditRecord[] }> = [];
    let refuseNext = 1;
    const collector = createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (request, response) => {
      let body = '';
      request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        if (refuseNext > 0) {
          refuseNext -= 1;
          response.writeHead(503).end('busy');
          return;
        }
        received.push({ authorization: request.headers.authorization, type: request.headers['content-type'], lines: body.trimEnd().split('\n').map((line) => JSON.parse(line) as AuditRecord) });
        response.writeHead(204).end();
      });
    });
    collector.listen(0, '127.0.0.1');
    await once(collector, 'listening');
    process.env['SIEM_TEST_TOKEN'] = 'Bearer collector-token';
    try {
      const store = await freshStore();
      const records = await append(store, 700);
      let failures = 0;
      forward(store, new HttpsTransport({ url: `https://localhost:${(collector.address() as AddressInfo).port}/ingest`, caFile: certFile, headersFromEnv: { Authorization: 'SIEM_TEST_TOKEN' } }), {}, { forwarded: () => undefined, failed: () => (failures += 1), lag: () => undefined });
      await waitFor('the collector to receive 700 records', () => received.flatMap((batch) => batch.lines).length >= 700, { timeoutMs: 20_000 });
      expect(failures).toBe(1);
      expect(received.map((batch) => batch.lines.length)).toEqual([500, 200]);
      expect(received.flatMap((batch) => batch.lines)).toEqual(records);
      expect(received.every((batch) => batch.authorization === 'Bearer collector-token' && batch.type === 'application/x-ndjson; charset=utf-8')).toBe(true);
      // The collector has the batch a moment before the forwarder stores the cursor past it.
      await waitFor('the cursor past the last record', async () => (await storedCursor(store)) === 700, { timeoutMs: 10_000 });
      expect((await readAudit(store, { limit: 1, after: 699 }))[0]!.seq).toBe(700);
    } finally {
      delete process.env['SIEM_TEST_TOKEN'];
      collector.close();
    }
  }, 60_000);

  it('refuses a plain http:// collector and a token variable that is not set', () => {
    expect(() => new HttpsTransport({ url: 'http://127.0.0.1:9/ingest' })).toThrow(/https/);
    expect(() => new HttpsTransport({ url: 'https://127.0.0.1:9/ingest', headersFromEnv: { Authorization: 'LIGHTSOUT_UNSET_VARIABLE' } })).toThrow(/LIGHTSOUT_UNSET_VARIABLE/);
  });
});

describe('closing a forwarder', () => {
  it('ends when close() comes while a send is in flight and that send then fails (a receiver down at shutdown)', async () => {
    const store = await freshStore();
    await append(store, 3);
    let fail: ((error: Error) => void) | undefined;
    let sends = 0;
    const transport: SinkTransport = {
      confirmAfterMs: 0,
      epoch: 0,
      send: () => {
        sends += 1;
        return new Promise<void>((_resolve, reject) => (fail = reject));
      },
      close: () => Promise.resolve(),
    };
    const forwarder = new AuditForwarder(store, transport, { sink: 'siem', holder: 'replica-a', batch: 500, leaseMs: 3000, pollMs: 200, startAt: 'beginning', maxBackoffMs: 60_000 }, quiet);
    forwarder.start();
    await waitFor('the first send in flight', () => fail !== undefined, { timeoutMs: 10_000 });
    const closed = forwarder.close();
    fail!(new Error('connect ECONNREFUSED'));
    await closed;
    expect(forwarder.status.state).toBe('closed');
    expect(sends).toBe(1);
  });

  it('ends when a send never completes (a receiver that stopped reading): the transport is closed under it after the grace', async () => {
    const store = await freshStore();
    await append(store, 1);
    let inFlight = false;
    let cut: ((error: Error) => void) | undefined;
    const transport: SinkTransport = {
      confirmAfterMs: 0,
      epoch: 0,
      send: () => {
        inFlight = true;
        return new Promise<void>((_resolve, reject) => (cut = reject));
      },
      close: () => {
        cut?.(new Error('connection closed'));
        return Promise.resolve();
      },
    };
    const forwarder = new AuditForwarder(store, transport, { sink: 'siem', holder: 'replica-a', batch: 500, leaseMs: 3000, pollMs: 200, startAt: 'beginning', maxBackoffMs: 60_000, closeGraceMs: 100 }, quiet);
    forwarder.start();
    await waitFor('the send in flight', () => inFlight, { timeoutMs: 10_000 });
    await forwarder.close();
    expect(forwarder.status.state).toBe('closed');
  });
});

describe('a syslog receiver that keeps the connection but stops reading', () => {
  it('fails the send once the batch was not taken within the write timeout, and drops that connection', async () => {
    const held: Socket[] = [];
    const receiver = createTcpServer((socket) => {
      socket.pause();
      held.push(socket);
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const transport = new SyslogTransport({ url: `tcp://127.0.0.1:${(receiver.address() as AddressInfo).port}`, writeTimeoutMs: 500 }, identity);
    try {
      // Far more than the loopback socket buffers of both ends hold.
      const big = 'x'.repeat(8 * 1024 * 1024);
      const records = Array.from({ length: 4 }, (_, index) => ({ seq: index + 1, time: Date.now(), subject: 's', tenant: 't', action: 'login', target: 'x', outcome: 'success', sourceIp: null, correlationId: null, details: { big }, prevHash: '', hash: '' }) as AuditRecord);
      await expect(transport.send(records)).rejects.toThrow(/did not take the batch within 500 ms/);
      expect(transport.epoch).toBe(1);
    } finally {
      await transport.close();
      for (const socket of held) socket.destroy();
      receiver.close();
    }
  });
});
