import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isIP } from 'node:net';
import { SHA256_PATTERN } from './cache.js';

/**
 * Signed media URLs. A BMC fetches its image over plain HTTP(S) without our
 * credentials, so the URL itself is the capability: it names one image, one
 * BMC (by the source address it will connect from, when the BMC is configured
 * by IP) and an expiry, under an HMAC-SHA256 with the agent's secret key.
 *
 *   /media/{expires}/{client}/{signature}/{sha256}/{name}.iso   (name: the user's file name, made URL-safe)
 *   /media/{expires}/{client}/{signature}/{sha256}.iso          (without a name; URLs of older agents)
 *
 * The signature is in the path, not the query: several BMCs refuse image URLs
 * that do not end in `.iso` or that carry a query string. BMCs show the last
 * segment as the image's name (Redfish ImageName, their web UI, the host's
 * boot menu), so it is the user's file name, not the hash. The name is not
 * signed: changing it changes nothing but the name.
 */
export interface SignedUrlClaims {
  sha256: string;
  /** Unix seconds. */
  expires: number;
  /** The BMC's IP address, or `any` when it is known only by name. */
  client: string;
}

export type Verdict = { ok: true; claims: SignedUrlClaims } | { ok: false; status: 403 | 404; reason: string };

const PATH_PATTERN = /^\/media\/(\d{1,12})\/([0-9a-f.:]{1,45}|any)\/([A-Za-z0-9_-]{43})\/([0-9a-f]{64})(?:\.iso|\/[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,95}\.iso)$/;
const NAME_LIMIT = 100;

/** A file name as the last URL segment: safe characters only, at most 100, ending in `.iso` as BMCs want. */
export function urlFileName(filename: string): string {
  const base = filename.split(/[\\/]/).pop() ?? '';
  const stem = base
    .replace(/\.iso$/i, '')
    .replace(/[^A-Za-z0-9._+-]/g, '_')
    .replace(/^[._]+/, '')
    .slice(0, NAME_LIMIT - 4);
  return `${stem || 'image'}.iso`;
}

export class MediaUrlSigner {
  private readonly key: Uint8Array;

  constructor(key: Uint8Array) {
    if (key.byteLength < 32) throw new Error('media URL key must be at least 32 bytes');
    this.key = key;
  }

  /** With `filename`, the URL ends in it (urlFileName), so the BMC shows the user's name for the image. */
  pathFor(claims: SignedUrlClaims, filename?: string): string {
    const tail = filename === undefined ? `${claims.sha256}.iso` : `${claims.sha256}/${urlFileName(filename)}`;
    return `/media/${claims.expires}/${claims.client}/${this.sign(claims)}/${tail}`;
  }

  /** Checks a request path from `remoteAddress` at `now` (ms). */
  verify(path: string, remoteAddress: string | undefined, now: number): Verdict {
    const match = PATH_PATTERN.exec(path);
    if (!match) return { ok: false, status: 404, reason: 'not a media URL' };
    const claims: SignedUrlClaims = { expires: Number(match[1]), client: match[2]!, sha256: match[4]! };
    if (!SHA256_PATTERN.test(claims.sha256)) return { ok: false, status: 404, reason: 'not a media URL' };
    const expected = Buffer.from(this.sign(claims));
    const given = Buffer.from(match[3]!);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, status: 403, reason: 'bad signature' };
    if (claims.expires * 1000 <= now) return { ok: false, status: 403, reason: 'expired' };
    if (claims.client !== 'any' && normalizeAddress(remoteAddress) !== normalizeAddress(claims.client)) {
      return { ok: false, status: 403, reason: `issued to ${claims.client}, requested from ${remoteAddress ?? '?'}` };
    }
    return { ok: true, claims };
  }

  private sign(claims: SignedUrlClaims): string {
    return createHmac('sha256', this.key).update(`lightsout-media-v1\n${claims.sha256}\n${claims.expires}\n${claims.client}`).digest('base64url');
  }
}

/** The client part of the URL: an IP when the BMC host is one, else `any` (name-based BMCs cannot be bound by source). */
export function clientFor(bmcHost: string): string {
  return isIP(bmcHost) ? normalizeAddress(bmcHost) : 'any';
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.5`, how a dual-stack socket reports IPv4 peers) compares equal to plain IPv4. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/** The HMAC key of media URLs, kept in `file` (created 0600) so URLs survive an agent restart. */
export function loadOrCreateKey(file: string): Uint8Array {
  try {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
    if (key.length >= 32) return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${key.toString('base64url')}\n`, { mode: 0o600 });
  return key;
}
