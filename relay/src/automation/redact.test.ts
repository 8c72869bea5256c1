import { describe, expect, it } from 'vitest';
import { AUDIT_ARGUMENTS_MAX_CHARS, MAX_REDACT_DEPTH, REDACTED, TOO_DEEP, auditedArguments, compilePatterns, createRedactor, redactValue } from './redact.js';

describe('redaction', () => {
  const redact = createRedactor();

  it.each([
    ['password: hunter2', `password: ${REDACTED}`],
    ['Password=hunter2 next', `Password=${REDACTED} next`],
    ['the password policy changed', 'the password policy changed'],
    ['export API_KEY="abc def"', `export API_KEY=${REDACTED}`],
    ['the secret is s3cr3t', `the secret is ${REDACTED}`],
    ['Authorization: Bearer abcdefghijklmnop', `Authorization: Bearer ${REDACTED}`],
    ['token eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl', `token ${REDACTED}`],
    ['lso_0123456789abcdef0123', REDACTED],
    ['key AKIAABCDEFGHIJKLMNOP here', `key ${REDACTED} here`],
  ])('%s → %s', (text, expected) => {
    expect(redact(text)).toBe(expected);
  });

  it('removes a whole PEM private key block, even one cut off at the end', () => {
    const pem = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----';
    expect(redact(`before\n${pem}\nafter`)).toBe(`before\n${REDACTED}\nafter`);
    expect(redact('-----BEGIN RSA PRIVATE KEY-----\nMIIEow')).toBe(REDACTED);
  });

  it("applies the tenant's patterns on top, to every string of a JSON value but not its keys", () => {
    const tenant = createRedactor(compilePatterns(['cust-[0-9]{4}']));
    expect(redactValue({ 'cust-1234': ['owner cust-9876', 3, null, { note: 'password=x' }] }, tenant)).toEqual({ 'cust-1234': [`owner ${REDACTED}`, 3, null, { note: `password=${REDACTED}` }] });
  });

  it('replaces what is nested past MAX_REDACT_DEPTH with a marker instead of walking it', () => {
    let deep: unknown = 'password=x';
    for (let level = 0; level < 100_000; level += 1) deep = [deep];
    let kept = redactValue(deep, redact);
    for (let level = 0; level < MAX_REDACT_DEPTH; level += 1) kept = (kept as unknown[])[0];
    expect(kept).toBe(TOO_DEEP);
    expect(redactValue([[`password=x`]], redact)).toEqual([[`password=${REDACTED}`]]);
  });

  it('keeps small arguments whole in an audit record and a marked prefix of large ones', () => {
    expect(auditedArguments({ line: 'password=x' }, redact)).toEqual({ line: `password=${REDACTED}` });
    const large = auditedArguments({ server_id: 'x'.repeat(900 * 1024) }, redact) as { truncated: boolean; chars: number; prefix: string };
    expect(large).toMatchObject({ truncated: true, chars: 900 * 1024 + '{"server_id":""}'.length });
    expect(large.prefix).toHaveLength(AUDIT_ARGUMENTS_MAX_CHARS);
  });

  it('names an invalid tenant pattern', () => {
    expect(() => compilePatterns(['ok', '(unclosed'])).toThrow(/invalid pattern "\(unclosed"/);
  });
});
