import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from './ports.js';
import { spawnTied } from './processes.js';

/**
 * Debian's rsyslog as a SIEM's syslog receiver for tests: imtcp on a free
 * loopback port, plain TCP (RFC 6587) or TLS through its OpenSSL driver
 * (RFC 5425), writing each message it receives twice — as received
 * (`%rawmsg%`) and as rsyslog's own RFC 5424 parser split it — so a test can
 * check both the bytes and that an independent parser reads them as meant.
 * stop() and start() keep the port and what was received: a receiver outage.
 */
export interface RsyslogPeer {
  readonly port: number;
  /** `tcp://127.0.0.1:PORT` or `tls://127.0.0.1:PORT`. */
  readonly url: string;
  /** The TLS receiver's certificate (PEM file), for the sender's CA list. */
  readonly caFile: string | undefined;
  /** Each message as received, without its frame. */
  raw(): string[];
  /** Each message as rsyslog parsed it. */
  parsed(): RsyslogMessage[];
  /** Stops the receiver (SIGTERM, then waits for it); what it received stays readable. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  remove(): Promise<void>;
}

export interface RsyslogMessage {
  pri: number;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  structuredData: string;
  msg: string;
}

const READY_TIMEOUT_MS = 20_000;

function linesOf(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
}

async function accepting(port: number): Promise<boolean> {
  const socket = connect({ host: '127.0.0.1', port });
  try {
    await once(socket, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

export async function startRsyslog(options: { tls?: boolean } = {}): Promise<RsyslogPeer> {
  const directory = mkdtempSync(join(tmpdir(), 'lightsout-rsyslog-'));
  const port = await freeTcpPort();
  let caFile: string | undefined;
  let tlsGlobals = '';
  let tlsModule = '';
  if (options.tls === true) {
    const keyFile = join(directory, 'key.pem');
    caFile = join(directory, 'cert.pem');
    const made = spawnTied('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', caFile, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const [code] = (await once(made, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`openssl could not make the receiver's certificate (exit ${code})`);
    tlsGlobals = ` DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile="${caFile}" DefaultNetstreamDriverCertFile="${caFile}" DefaultNetstreamDriverKeyFile="${keyFile}"`;
    tlsModule = ' StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"';
  }
  const rawFile = join(directory, 'raw.log');
  const parsedFile = join(directory, 'parsed.log');
  const config = join(directory, 'rsyslog.conf');
  writeFileSync(
    config,
    [
      `global(workDirectory="${directory}" maxMessageSize="64k"${tlsGlobals})`,
      `module(load="imtcp"${tlsModule})`,
      `input(type="imtcp" port="${port}" address="127.0.0.1")`,
      'template(name="raw" type="string" string="%rawmsg%\\n")',
      'template(name="parsed" type="string" string="%pri%\\t%hostname%\\t%app-name%\\t%procid%\\t%msgid%\\t%structured-data%\\t%msg%\\n")',
      `action(type="omfile" file="${rawFile}" template="raw")`,
      `action(type="omfile" file="${parsedFile}" template="parsed")`,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  let output = '';

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    output = '';
    const started = spawnTied('rsyslogd', ['-n', '-f', config, '-i', join(directory, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    started.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    started.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    started.once('exit', () => {
      if (child === started) child = undefined;
    });
    // rsyslogd says nothing when it is up: the listening port is the sign.
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await accepting(port))) {
      if (child !== started) throw new Error(`rsyslogd exited: ${output.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`rsyslogd did not listen on ${port} within ${READY_TIMEOUT_MS} ms: ${output.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  const stop = async (): Promise<void> => {
    const running = child;
    if (running === undefined) return;
    const exited = once(running, 'exit');
    running.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    port,
    url: `${options.tls === true ? 'tls' : 'tcp'}://127.0.0.1:${port}`,
    caFile,
    raw: () => linesOf(rawFile),
    parsed: () =>
      linesOf(parsedFile).map((line) => {
        const [pri, hostname, appName, procId, msgId, structuredData, ...msg] = line.split('\t');
        return { pri: Number(pri), hostname: hostname!, appName: appName!, procId: procId!, msgId: msgId!, structuredData: structuredData!, msg: msg.join('\t') };
      }),
    stop,
    start,
    async remove() {
      await stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
