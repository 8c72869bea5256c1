import { randomUUID } from 'node:crypto';
import { type AgentEnrolled, type AgentToRelay, type RelayToAgent, LightsoutError, decodeRelayMessage, encodeControl } from '@lightsout/shared';
import { type CryptoKey, type JWK, SignJWT, exportJWK, generateKeyPair } from 'jose';
import WebSocket from 'ws';

/**
 * Test-only: a scripted agent for the relay's control channel, so relay
 * tests can send exactly the frames they mean to (including broken ones).
 * The real agent lives in agent/.
 */
export interface TestAgentIdentity {
  agentId: string;
  region: string;
  datacenter: string;
  audience: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function enrollTestAgent(relayUrl: string, joinToken: string, name = 'test-agent'): Promise<TestAgentIdentity> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const response = await fetch(`${relayUrl}/v1/agents/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ joinToken, name, publicKey: publicJwk }),
  });
  const body = (await response.json()) as AgentEnrolled;
  if (response.status !== 201) throw LightsoutError.fromBody(body);
  return { ...body, privateKey, publicJwk };
}

/** A connect token as the agent makes it: EdDSA, kid = agent id, iss = sub = agent id, ≤ 60 s. */
export async function agentConnectToken(identity: TestAgentIdentity, overrides: { lifetimeSeconds?: number; jti?: string; audience?: string; issuedAt?: number } = {}): Promise<string> {
  const issuedAt = overrides.issuedAt ?? Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', kid: identity.agentId })
    .setIssuer(identity.agentId)
    .setSubject(identity.agentId)
    .setAudience(overrides.audience ?? identity.audience)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + (overrides.lifetimeSeconds ?? 30))
    .setJti(overrides.jti ?? randomUUID())
    .sign(identity.privateKey);
}

export interface UpgradeRefusal {
  status: number;
  body: { code?: string; message?: string };
}

/** A live control connection with a message queue to await on. */
export class TestControlClient {
  private readonly received: RelayToAgent[] = [];
  private readonly waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.received.push(decodeRelayMessage(data.toString()));
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => socket.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const wake of this.waiters.splice(0)) wake();
    }));
  }

  /** Open the control WebSocket; resolves on open, or with the HTTP refusal of the upgrade. */
  static async connect(relayUrl: string, token: string): Promise<TestControlClient | UpgradeRefusal> {
    const socket = new WebSocket(`${relayUrl.replace(/^http/, 'ws')}/v1/agent/connect`, { headers: { authorization: `Bearer ${token}` } });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new TestControlClient(socket)));
      socket.once('unexpected-response', (_request, response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          socket.terminate();
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as UpgradeRefusal['body'] });
        });
      });
      socket.once('error', reject);
    });
  }

  send(message: AgentToRelay | Record<string, unknown>): void {
    this.socket.send(encodeControl(message as AgentToRelay));
  }

  sendRaw(frame: string | Buffer): void {
    this.socket.send(frame);
  }

  /** The next message of this type (earlier ones of other types are skipped); rejects on close or timeout. */
  async next<Type extends RelayToAgent['type']>(type: Type, timeoutMs = 5000): Promise<Extract<RelayToAgent, { type: Type }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((message) => message.type === type);
      if (index >= 0) return this.received.splice(0, index + 1).at(-1) as Extract<RelayToAgent, { type: Type }>;
      if (this.socket.readyState !== WebSocket.OPEN) throw new Error(`control connection closed while waiting for ${type}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no ${type} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(1000, 'test done');
    return this.closed;
  }
}

export function isRefusal(value: TestControlClient | UpgradeRefusal): value is UpgradeRefusal {
  return !(value instanceof TestControlClient);
}
