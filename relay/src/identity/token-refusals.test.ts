import { createHmac } from 'node:crypto';
import { type JWK, SignJWT, decodeJwt, decodeProtectedHeader, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, loginWithDeviceFlow, startRelay } from '../testing/index.js';
import { readProviderSecrets } from './keys.js';

let relay: RunningRelay;
let edKey: JWK;
let operatorSubject: string;
let validToken: string;

beforeAll(async () => {
  relay = await startRelay();
  const secrets = (await readProviderSecrets(relay.app.keyDocuments))!;
  edKey = secrets.jwks.keys.find((key) => key.alg === 'EdDSA')!;
  validToken = (await loginWithDeviceFlow(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
  operatorSubject = decodeJwt(validToken).sub!;
});
afterAll(async () => {
  await relay.close();
});

function base64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

async function signed(claims: Record<string, unknown>, options: { expiresIn?: string | number; audience?: string; typ?: string } = {}): Promise<string> {
  const key = await importJWK(edKey, 'EdDSA');
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'EdDSA', kid: edKey.kid!, typ: options.typ ?? 'at+jwt' })
    .setIssuer(`${relay.url}/oidc`)
    .setSubject(operatorSubject)
    .setAudience(options.audience ?? `${relay.url}/v1`)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(key);
}

async function me(authorization: string | undefined) {
  const response = await relay.app.inject({ url: '/v1/me', headers: authorization === undefined ? {} : { authorization } });
  return { status: response.statusCode, code: (response.json() as { code?: string }).code, body: response.body };
}

describe('access token refusals', () => {
  it('accepts the OP-issued token and a token signed with the OP key (baseline, so refusals below mean something)', async () => {
    expect((await me(`Bearer ${validToken}`)).status).toBe(200);
    expect((await me(`Bearer ${await signed({})}`)).status).toBe(200);
  });

  it('no token → UNAUTHENTICATED, a non-Bearer header → TOKEN_INVALID', async () => {
    expect(await me(undefined)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await me('Basic YWRtaW46YWRtaW4=')).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
  });

  it('garbage → TOKEN_INVALID', async () => {
    expect(await me('Bearer not-a-jwt')).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    expect(await me('Bearer a.b.c')).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
  });

  it('alg none → TOKEN_INVALID', async () => {
    const payload = decodeJwt(validToken);
    const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`;
    expect(await me(`Bearer ${unsigned}`)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
  });

  it('HS256 signed with the public key as the HMAC secret → TOKEN_INVALID', async () => {
    const payload = decodeJwt(validToken);
    const jwks = (await (await fetch(`${relay.url}/oidc/jwks`)).json()) as { keys: JWK[] };
    for (const secret of [JSON.stringify(jwks.keys[0]), Buffer.from(edKey.x!, 'base64url')]) {
      const input = `${base64url({ alg: 'HS256', typ: 'JWT', kid: edKey.kid })}.${base64url(payload)}`;
      const signature = createHmac('sha256', secret).update(input).digest('base64url');
      expect(await me(`Bearer ${input}.${signature}`)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    }
  });

  it('tampered signature or payload → TOKEN_INVALID', async () => {
    const [header, payload, signature] = validToken.split('.') as [string, string, string];
    const flipped = `${signature.slice(0, -2)}${signature.at(-2) === 'A' ? 'B' : 'A'}${signature.at(-1)}`;
    expect(await me(`Bearer ${header}.${payload}.${flipped}`)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    const elevated = base64url({ ...decodeJwt(validToken), sub: 'someone-else' });
    expect(await me(`Bearer ${header}.${elevated}.${signature}`)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
  });

  it('wrong audience → TOKEN_AUDIENCE; wrong issuer → TOKEN_INVALID', async () => {
    expect(await me(`Bearer ${await signed({}, { audience: `${relay.url}/agent` })}`)).toMatchObject({ status: 401, code: 'TOKEN_AUDIENCE' });
    const otherIssuer = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA', kid: edKey.kid!, typ: 'at+jwt' }).setIssuer('https://evil.example').setSubject(operatorSubject).setAudience(`${relay.url}/v1`).setIssuedAt().setExpirationTime('5m').sign(await importJWK(edKey, 'EdDSA'));
    expect(await me(`Bearer ${otherIssuer}`)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
  });

  it('a JWT of another type (ID token: typ JWT, or no typ) signed by the OP → TOKEN_TYPE', async () => {
    expect(decodeProtectedHeader(validToken).typ).toBe('at+jwt');
    expect(await me(`Bearer ${await signed({}, { typ: 'JWT' })}`)).toMatchObject({ status: 401, code: 'TOKEN_TYPE' });
    const untyped = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA', kid: edKey.kid! }).setIssuer(`${relay.url}/oidc`).setSubject(operatorSubject).setAudience(`${relay.url}/v1`).setIssuedAt().setExpirationTime('5m').sign(await importJWK(edKey, 'EdDSA'));
    expect(await me(`Bearer ${untyped}`)).toMatchObject({ status: 401, code: 'TOKEN_TYPE' });
    expect(await me(`Bearer ${await signed({}, { typ: 'application/at+jwt' })}`)).toMatchObject({ status: 200 });
  });

  it('a lifetime (exp − iat) longer than the access-token TTL, ten years say → TOKEN_LIFETIME', async () => {
    expect(await me(`Bearer ${await signed({}, { expiresIn: '3650d' })}`)).toMatchObject({ status: 401, code: 'TOKEN_LIFETIME' });
    expect(await me(`Bearer ${await signed({}, { expiresIn: `${relay.config.identity.accessTokenTtlSeconds}s` })}`)).toMatchObject({ status: 200 });
  });

  it('issued in the future (iat beyond the clock tolerance) → TOKEN_INVALID, so exp − iat cannot hide a year-long token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const key = await importJWK(edKey, 'EdDSA');
    const issuedAt = (iat: number, exp: number) =>
      new SignJWT({}).setProtectedHeader({ alg: 'EdDSA', kid: edKey.kid!, typ: 'at+jwt' }).setIssuer(`${relay.url}/oidc`).setSubject(operatorSubject).setAudience(`${relay.url}/v1`).setIssuedAt(iat).setExpirationTime(exp).sign(key);
    // exp − iat is a minute, but the token lives a year.
    expect(await me(`Bearer ${await issuedAt(now + 365 * 86_400 - 60, now + 365 * 86_400)}`)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    expect(await me(`Bearer ${await issuedAt(now + 60, now + 120)}`)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    // Within the 5 s tolerance for clocks a little apart: accepted.
    expect(await me(`Bearer ${await issuedAt(now + 2, now + 120)}`)).toMatchObject({ status: 200 });
  });

  it('expired → TOKEN_EXPIRED', async () => {
    const expired = await signed({}, { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    expect(await me(`Bearer ${expired}`)).toMatchObject({ status: 401, code: 'TOKEN_EXPIRED' });
  });

  it('a valid signature for a subject that is not an active user → UNAUTHENTICATED', async () => {
    const orphan = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA', kid: edKey.kid!, typ: 'at+jwt' }).setIssuer(`${relay.url}/oidc`).setSubject('no-such-user').setAudience(`${relay.url}/v1`).setIssuedAt().setExpirationTime('5m').sign(await importJWK(edKey, 'EdDSA'));
    expect(await me(`Bearer ${orphan}`)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    await relay.app.store.updateTable('users').set({ disabled: 1 }).where('id', '=', operatorSubject).execute();
    try {
      expect(await me(`Bearer ${validToken}`)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    } finally {
      await relay.app.store.updateTable('users').set({ disabled: 0 }).where('id', '=', operatorSubject).execute();
    }
  });

  it('never echoes the token in the error body', async () => {
    const response = await me(`Bearer ${await signed({}, { audience: 'elsewhere' })}`);
    expect(response.body).not.toContain('eyJ');
  });
});
