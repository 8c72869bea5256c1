import { LightsoutError } from '@lightsout/shared';
import { type JWK, decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify } from 'jose';
import type { SingleUseLedger } from '../access/single-use.js';
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

/**
 * Verify an agent's control-connection JWT: header {alg: EdDSA, kid: agentId},
 * iss = sub = agentId, aud = the deployment's agent audience (the same on
 * every relay sharing the store, so the agent's one enrollment is good on
 * any of them; or this relay's own, for agents enrolled before that was
 * configured), exp − iat ≤ 60 s,
 * a jti never seen before (spent in the store: refused again after a relay
 * restart too). Signed by the key the agent enrolled with.
 */
export async function authenticateAgent(store: Store, ledger: SingleUseLedger, token: string, audience: string | string[]): Promise<AuthenticatedAgent> {
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
  const agent = await store.selectFrom('agents').selectAll().where('id', '=', kid).executeTakeFirst();
  if (agent === undefined) throw new LightsoutError('AGENT_KEY_UNKNOWN', 'no agent is enrolled with this key id', { hint: 'enroll the agent again with a new join token' });
  if (agent.revoked !== 0) throw new LightsoutError('AGENT_REVOKED', 'this agent was revoked', { hint: 'enroll it again with a new join token if it is trusted' });
  let payload;
  try {
    const key = await importJWK(JSON.parse(agent.public_jwk) as JWK, 'EdDSA');
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
