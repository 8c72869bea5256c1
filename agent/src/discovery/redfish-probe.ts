import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { DiscoveredRedfish } from '@lightsout/shared';
import type { ProbePacer } from './pacer.js';

export interface RedfishProbeOptions {
  port: number;
  pacer: ProbePacer;
  timeoutMs: number;
  /** Called as each connection attempt leaves (its SYN is the probe). */
  onSend?: (address: string) => void;
}

/** A service root is a few kilobytes; more is not one (or not one we want to parse). */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * GET /redfish/v1/ over HTTPS (DSP0266 §10.2: the service root needs no
 * authentication). No certificate can be checked yet: the BMC is unknown and
 * its certificate self-signed. That is safe here because nothing is sent but
 * the GET (no credentials, no session), and what comes back is only
 * reported. The certificate's fingerprint is reported with it, and adoption
 * pins that fingerprint, so every later (authenticated) connection needs the
 * certificate the admin adopted.
 */
export async function probeRedfish(address: string, options: RedfishProbeOptions): Promise<DiscoveredRedfish | undefined> {
  await options.pacer.take();
  options.onSend?.(address);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (finding: DiscoveredRedfish | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clientRequest.destroy();
      resolve(finding);
    };
    const clientRequest = request(
      { host: address, port: options.port, path: '/redfish/v1/', method: 'GET', headers: { accept: 'application/json' }, agent: false, rejectUnauthorized: false, servername: '' },
      (response) => {
        const socket = response.socket as TLSSocket;
        const certificate = socket.getPeerCertificate?.();
        const fingerprint = certificate?.fingerprint256?.replaceAll(':', '').toLowerCase();
        if (response.statusCode !== 200 || fingerprint === undefined || !/^[0-9a-f]{64}$/.test(fingerprint)) return finish(undefined);
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) return finish(undefined);
          chunks.push(chunk);
        });
        response.on('end', () => finish(serviceRootFinding(Buffer.concat(chunks).toString('utf8'), options.port, fingerprint)));
        response.on('error', () => finish(undefined));
      },
    );
    // One deadline for the whole exchange: connect, handshake, headers and body.
    const timer = setTimeout(() => finish(undefined), options.timeoutMs);
    clientRequest.on('error', () => finish(undefined));
    clientRequest.end();
  });
}

/** The finding from a service root body, or undefined when it is not one (DSP0266 §10.2: RedfishVersion is required). */
export function serviceRootFinding(body: string, port: number, fingerprint256: string): DiscoveredRedfish | undefined {
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return undefined;
  const root = document as Record<string, unknown>;
  const text = (key: string, maxLength: number) => (typeof root[key] === 'string' && root[key] !== '' ? (root[key] as string).slice(0, maxLength) : undefined);
  const redfishVersion = text('RedfishVersion', 32);
  if (redfishVersion === undefined) return undefined;
  const finding: DiscoveredRedfish = { port, redfishVersion, fingerprint256 };
  const uuid = text('UUID', 64);
  const vendor = text('Vendor', 255);
  const product = text('Product', 255);
  if (uuid !== undefined) finding.uuid = uuid.toLowerCase();
  if (vendor !== undefined) finding.vendor = vendor;
  if (product !== undefined) finding.product = product;
  return finding;
}
