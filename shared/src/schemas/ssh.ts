import Type, { type Static } from 'typebox';

/**
 * SSH public keys a user registers for the relay's SSH front door
 * (`ssh sim-01@relay`), and the relay's host key users verify on first
 * connect. A key is one user's, in that user's tenant; removing it is its
 * revocation.
 */

/** One OpenSSH public key line: `ssh-ed25519 AAAA… comment` (RFC 4253 §6.6 blob, base64). */
export const SshKeyCreate = Type.Object(
  {
    publicKey: Type.String({ minLength: 16, maxLength: 16_384 }),
    /** Default: the key line's comment, else the algorithm. */
    name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9@._ -]{0,63}$' })),
  },
  { additionalProperties: false },
);
export type SshKeyCreate = Static<typeof SshKeyCreate>;

export const SshKeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  /** The key type as SSH names it: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa … */
  algorithm: Type.String(),
  /** Key size in bits (RSA modulus, ECDSA curve, 256 for Ed25519). */
  bits: Type.Integer(),
  /** `SHA256:` + unpadded base64 of the blob's SHA-256, as `ssh-keygen -l` prints it. */
  fingerprint: Type.String(),
  publicKey: Type.String(),
  createdAt: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});
export type SshKeyView = Static<typeof SshKeyView>;
export const SshKeyList = Type.Object({ keys: Type.Array(SshKeyView) });
export type SshKeyList = Static<typeof SshKeyList>;

export const SshHostKey = Type.Object({
  algorithm: Type.String(),
  fingerprint: Type.String(),
  /** The `known_hosts` form (`ssh-ed25519 AAAA…`), without a host name. */
  publicKey: Type.String(),
  /** Where the SSH front door listens, when it is on (a gateway replica may listen where this relay does not). */
  port: Type.Union([Type.Integer(), Type.Null()]),
});
export type SshHostKey = Static<typeof SshHostKey>;

/** POST /v1/me/ssh-certificate: the public key to certify (`lightsout ssh login` makes an Ed25519 one). */
export const SshCertificateRequest = Type.Object({ publicKey: Type.String({ minLength: 16, maxLength: 16_384 }) }, { additionalProperties: false });
export type SshCertificateRequest = Static<typeof SshCertificateRequest>;

export const SshCertificate = Type.Object({
  /** The `-cert.pub` line OpenSSH reads beside the private key (`ssh-ed25519-cert-v01@openssh.com AAAA…`). */
  certificate: Type.String(),
  /** `lightsout:<tenant>:<account id>`: the account the certificate opens. */
  keyId: Type.String(),
  principals: Type.Array(Type.String()),
  serial: Type.String(),
  validAfter: Type.String(),
  validBefore: Type.String(),
  /** The deployment's CA (`ssh-ed25519 AAAA…`), e.g. for an sshd's TrustedUserCAKeys elsewhere. */
  caPublicKey: Type.String(),
});
export type SshCertificate = Static<typeof SshCertificate>;
