import { LightsoutError } from '@lightsout/shared';
import { type JWK, decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify } from 'jose';
import type { SingleUseLedger } from '../access/single-use.js';
import { BatchedLookup } from '../store/batched-lookup.js';
import type { Store } from '../store/open.js';

/** Longest lifetime an agent's connect JWT may claim (exp − iat), seconds. */
export const AGENT_TOKEN_MAX_LIFETIME_SECONDS = 60;
const CLOCK_TOLERANCE_SECONDS = 5;

export interface AuthenticatedAgent {
  id: string;
  name: string;
  region: string;
  datacenter: string;
}

/** How many agents' imported public keys are kept (a gateway holds its region's agents). */
const IMPORTED_KEYS_MAX = 1000;

type AgentRow = { id: string; name: string; region: string; datacenter: string; revoked: number; public_jwk: string };
type PublicKey = Awaited<ReturnType<typeof importJWK>>;

/**
 * The agents' rows and public keys as token checks read them. Every check
 * reads the row (revoked? which key?) from the store, the rows asked for in
 * one turn by one statement: after a gateway failover the agent dials back
 * one leg per console, hundreds at once. The key imported from a row's JWK
 * is kept by that JWK's text, so a re-enrolled agent's new key is a new entry.
 */
export class AgentRecords {
  private readonly rows: BatchedLookup<string, AgentRow>;
  private readonly keys = new Map<string, Promise<PublicKey>>();

  constructor(store: Store) {
    this.rows = new BatchedLookup(async (ids) => {
      const rows = await store.selectFrom('agents').select(['id', 'name', 'region', 'datacenter', 'revoked', 'public_jwk']).where('id', 'in', ids).execute();
      return new Map(rows.map((row) => [row.id, row]));
    });
  }

  row(agentId: string): Promise<AgentRow | undefined> {
    return this.rows.get(agentId);
  }

  key(publicJwk: string): Promise<PublicKey> {
    let key = this.keys.get(publicJwk);
    if (key === undefined) {
      key = importJWK(JSON.parse(publicJwk) as JWK, 'EdDSA');
      // A JWK that does not import is not kept: the next check fails the same way, on its own.
      key.catch(() => this.keys.delete(publicJwk));
      if (this.keys.size >= IMPORTED_KEYS_MAX) this.keys.delete(this.keys.keys().next().value!);
      this.keys.set(publicJwk, key);
    }
    return key;
  }
}

/**
 * Verify an agent's control-connection JWT: header {alg: EdDSA, kid: agentId},
 * iss = sub = agentId, aud = the deployment's agent audience (the same on
 * every relay sharing the store, so the agent's one enrollment is good on
 * any of them; or this relay's own, for agents enrolled before that was
 * configured), exp − iat ≤ 60 s,
 * a jti never seen before (spent in the store: refused again after a relay
 * restart too). Signed by the key the agent enrolled with.
 */
export async function authenticateAgent(records: AgentRecords, ledger: SingleUseLedger, token: string, audience: string | string[]): Promise<AuthenticatedAgent> {
  let kid: unknown;
  try {
    const header = decodeProtectedHeader(token);
    if (header.alg !== 'EdDSA') throw new LightsoutError('TOKEN_INVALID', 'agent tokens must be signed with EdDSA');
    kid = header.kid;
  } catch (error) {
    if (error instanceof LightsoutError) throw error;
    throw new LightsoutError('TOKEN_INVALID', 'agent token is not a JWS');
  }
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > 64) throw new LightsoutError('TOKEN_INVALID', 'agent token has no kid (the agent id)');
  const agent = await records.row(kid);
  if (agent === undefined) throw new LightsoutError('AGENT_KEY_UNKNOWN', 'no agent is enrolled with this key id', { hint: 'enroll the agent again with a new join token' });
  if (agent.revoked !== 0) throw new LightsoutError('AGENT_REVOKED', 'this agent was revoked', { hint: 'enroll it again with a new join token if it is trusted' });
  let payload;
  try {
    const key = await records.key(agent.public_jwk);
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ['EdDSA'],
      issuer: agent.id,
      subject: agent.id,
      audience,
      requiredClaims: ['exp', 'iat', 'jti'],
      maxTokenAge: AGENT_TOKEN_MAX_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new LightsoutError('TOKEN_EXPIRED', 'agent token expired', { hint: 'check the agent host clock (NTP)' });
    if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud') throw new LightsoutError('TOKEN_AUDIENCE', 'agent token is for another relay');
    throw new LightsoutError('TOKEN_INVALID', 'agent token rejected');
  }
  if (payload.exp! - payload.iat! > AGENT_TOKEN_MAX_LIFETIME_SECONDS) {
    throw new LightsoutError('TOKEN_INVALID', `agent token lifetime exceeds ${AGENT_TOKEN_MAX_LIFETIME_SECONDS} s`);
  }
  if (typeof payload.jti !== 'string' || payload.jti.length > 128 || !(await ledger.spend(`agent:${agent.id}`, payload.jti, (payload.exp! + CLOCK_TOLERANCE_SECONDS) * 1000))) {
    throw new LightsoutError('TOKEN_INVALID', 'agent token was already used (replay)');
  }
  return { id: agent.id, name: agent.name, region: agent.region, datacenter: agent.datacenter };
}
