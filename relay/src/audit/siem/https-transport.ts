import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { AuditRecord } from '@lightsout/shared';
import { recordJson, type SinkTransport } from './transport.js';

export interface HttpsTarget {
  /** The collector's endpoint; each batch is POSTed there as JSON lines. */
  url: string;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** Request headers whose values are read from environment variables (name → variable), e.g. an Authorization token. */
  headersFromEnv?: Record<string, string> | undefined;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** A collector's refusal: its status and the start of what it said. */
export class CollectorRefused extends Error {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`collector answered ${status}: ${body.slice(0, 200)}`);
  }
}

/**
 * JSON lines over HTTPS, one POST a batch (`application/x-ndjson`, one audit
 * record a line); a 2xx answer acknowledges the batch, anything else is
 * retried. Only https URLs: audit records name users and addresses.
 */
export class HttpsTransport implements SinkTransport {
  readonly confirmAfterMs = 0;
  readonly epoch = 0;
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly tls: { ca?: Buffer; cert?: Buffer; key?: Buffer };

  constructor(target: HttpsTarget) {
    this.url = new URL(target.url);
    if (this.url.protocol !== 'https:') throw new Error(`the HTTPS sink's url must be https://, not ${this.url.protocol}`);
    this.headers = {};
    for (const [header, variable] of Object.entries(target.headersFromEnv ?? {})) {
      const value = process.env[variable];
      if (value === undefined) throw new Error(`the HTTPS sink's header ${header} names the environment variable ${variable}, which is not set`);
      this.headers[header] = value;
    }
    this.tls = {
      ...(target.caFile === undefined ? {} : { ca: readFileSync(target.caFile) }),
      ...(target.certFile === undefined ? {} : { cert: readFileSync(target.certFile) }),
      ...(target.keyFile === undefined ? {} : { key: readFileSync(target.keyFile) }),
    };
  }

  send(records: readonly AuditRecord[]): Promise<void> {
    const body = Buffer.from(records.map((record) => `${recordJson(record)}\n`).join(''), 'utf8');
    return new Promise((resolve, reject) => {
      const request = httpsRequest(
        this.url,
        {
          method: 'POST',
          headers: { ...this.headers, 'content-type': 'application/x-ndjson; charset=utf-8', 'content-length': body.length },
          timeout: REQUEST_TIMEOUT_MS,
          minVersion: 'TLSv1.2',
          ...this.tls,
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            if (text.length < 1000) text += chunk;
          });
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new CollectorRefused(status, text));
          });
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`collector did not answer within ${REQUEST_TIMEOUT_MS} ms`)));
      request.on('error', reject);
      request.end(body);
    });
  }

  async close(): Promise<void> {}
}
