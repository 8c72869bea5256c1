import { randomUUID } from 'node:crypto';
import { SignJWT, type CryptoKey } from 'jose';

/** Lifetime of a control-connection token: long enough to connect, useless if it leaks later. */
export const AGENT_JWT_LIFETIME_SECONDS = 60;

/**
 * The bearer token for one control-connection attempt (RFC 7519, EdDSA per
 * RFC 8037): `kid` and `iss`/`sub` name the agent so the relay can pick the
 * registered public key; a random `jti` lets it refuse a replay.
 */
export async function signAgentJwt(
  privateKey: CryptoKey,
  claims: { agentId: string; audience: string },
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', kid: claims.agentId, typ: 'JWT' })
    .setIssuer(claims.agentId)
    .setSubject(claims.agentId)
    .setAudience(claims.audience)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + AGENT_JWT_LIFETIME_SECONDS)
    .setJti(randomUUID())
    .sign(privateKey);
}
