import { freeTcpPort } from '@lightsout/lab';
import { OAuth2Server } from 'oauth2-mock-server';

/**
 * Test-only: an independent OpenID Connect implementation (oauth2-mock-server
 * from npm) on a loopback port, so external-issuer behaviour is checked
 * against someone else's discovery, JWKS and token shapes, not only our own
 * OP. Its tokens carry `typ: JWT`, `amr: ["pwd"]` and no `auth_time`, like
 * many real providers. stop()/start() keep the port and the signing key, so
 * an outage and a recovery look like the same issuer coming back.
 */
export class MockIssuer {
  readonly port: number;
  #server: OAuth2Server;
  #keys: Record<string, unknown>[] = [];

  private constructor(port: number) {
    this.port = port;
    this.#server = new OAuth2Server();
  }

  /** The issuer URL (`iss`), also the discovery base. Known before the first start. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get server(): OAuth2Server {
    return this.#server;
  }

  static async create(options: { start?: boolean } = {}): Promise<MockIssuer> {
    const issuer = new MockIssuer(await freeTcpPort());
    issuer.#server.issuer.url = issuer.url;
    const key = await issuer.#server.issuer.keys.generate('RS256');
    issuer.#keys = [key as unknown as Record<string, unknown>];
    if (options.start !== false) await issuer.start();
    return issuer;
  }

  async start(): Promise<void> {
    if (this.#server.listening) return;
    // A stopped OAuth2Server cannot listen again: a new one with the same key.
    const server = new OAuth2Server();
    for (const key of this.#keys) await server.issuer.keys.add(key);
    server.issuer.url = this.url;
    this.#server = server;
    await server.start(this.port, '127.0.0.1');
  }

  async stop(): Promise<void> {
    if (this.#server.listening) await this.#server.stop();
  }

  /** The issuer's public keys (its JWKS document), also while stopped. */
  jwks(): { keys: object[] } {
    return { keys: this.#server.issuer.keys.toJSON() as object[] };
  }

  /** A token signed by the issuer's key (also while stopped); `header` overrides (typ …), `claims` add to or replace the payload. */
  async token(claims: Record<string, unknown>, options: { header?: Record<string, unknown>; expiresIn?: number } = {}): Promise<string> {
    return this.#server.issuer.buildToken({
      expiresIn: options.expiresIn ?? 300,
      scopesOrTransform: (header, payload) => {
        Object.assign(header, options.header ?? {});
        Object.assign(payload, claims);
      },
    });
  }
}
