import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from './ports.js';
import { type PeerProcess, runToCompletion, spawnPeer } from './vnc-process.js';

const START_TIMEOUT_MS = 20_000;
const PORT_ATTEMPTS = 3;

/** websockify (WebSocket → TCP), the standard bridge BMC web consoles use. */
export interface WebsockifyPeer {
  readonly port: number;
  /** `ws://127.0.0.1:<port>/` (or wss://) — RFB in binary messages, subprotocol "binary" when asked. */
  readonly url: string;
  readonly pid: number;
  /** PEM of the self-signed certificate when started with `tls`. */
  readonly certificate: string | undefined;
  stop(): Promise<void>;
}

/** True once something accepts TCP connections on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * websockify prints its settings before it binds, so readiness is polled:
 * connect until accepted, with a growing delay, bounded by START_TIMEOUT_MS,
 * failing at once if the process exits.
 */
async function waitUntilListening(peer: PeerProcess, port: number): Promise<void> {
  let exited = false;
  void peer.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (let delayMs = 10; Date.now() < deadline; delayMs = Math.min(delayMs * 2, 200)) {
    if (exited) throw new Error(`websockify exited before listening: ${peer.output().trim()}`);
    if (await accepts(port)) return;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
  throw new Error(`websockify not listening on ${port} after ${START_TIMEOUT_MS} ms: ${peer.output().trim()}`);
}

export interface WebsockifyOptions {
  /**
   * Serve wss:// only, with a fresh self-signed certificate for 127.0.0.1
   * (as a BMC would); its PEM is returned as `certificate` to pin as a CA.
   */
  tls?: boolean;
  /** Also serve this directory's files over HTTP(S) on the same port (`--web`), e.g. noVNC's `/usr/share/novnc`: a BMC-like web console. */
  web?: string;
}

/** Several targets behind one websockify, picked by the URL's `?token=` (websockify's TokenFile plugin). */
export interface WebsockifyTokenTargets {
  tokens: Record<string, { host: string; port: number }>;
}

/** `ws://127.0.0.1:<port>/?token=<name>`: the target `name` of a token-routed websockify. */
export function websockifyTokenUrl(peer: WebsockifyPeer, token: string): string {
  return `${peer.url}?token=${encodeURIComponent(token)}`;
}

/** A self-signed certificate for IP 127.0.0.1, made with openssl in `directory`. */
async function selfSignedCertificate(directory: string): Promise<{ certFile: string; keyFile: string; pem: string }> {
  const certFile = join(directory, 'cert.pem');
  const keyFile = join(directory, 'key.pem');
  await runToCompletion('openssl req', 'openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', keyFile, '-out', certFile]);
  return { certFile, keyFile, pem: await readFile(certFile, 'utf8') };
}

export async function startWebsockify(target: { host: string; port: number } | WebsockifyTokenTargets, options: WebsockifyOptions = {}): Promise<WebsockifyPeer> {
  const directory = await mkdtemp(join(tmpdir(), 'lightsout-websockify-'));
  try {
    const tls = options.tls ? await selfSignedCertificate(directory) : undefined;
    const tlsArgs = tls ? ['--cert', tls.certFile, '--key', tls.keyFile, '--ssl-only'] : [];
    let targetArgs: string[];
    if ('tokens' in target) {
      const tokenFile = join(directory, 'tokens');
      await writeFile(tokenFile, Object.entries(target.tokens).map(([name, to]) => `${name}: ${to.host}:${to.port}\n`).join(''));
      targetArgs = ['--token-plugin', 'TokenFile', '--token-source', tokenFile];
    } else targetArgs = [`${target.host}:${target.port}`];
    let lastError: unknown;
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      const port = await freeTcpPort();
      const webArgs = options.web === undefined ? [] : ['--web', options.web];
      const peer = spawnPeer('websockify', 'websockify', [...tlsArgs, ...webArgs, `127.0.0.1:${port}`, ...targetArgs]);
      try {
        await waitUntilListening(peer, port);
        const stop = async (): Promise<void> => {
          await peer.stop();
          await rm(directory, { recursive: true, force: true });
        };
        return { port, url: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/`, pid: peer.pid, certificate: tls?.pem, stop };
      } catch (error) {
        lastError = error;
        await peer.stop();
      }
    }
    throw lastError;
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}
