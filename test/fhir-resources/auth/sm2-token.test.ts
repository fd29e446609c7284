import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { sm2 } from 'sm-crypto-v2';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { AUDIT_TABLE } from '../../../fhir-resources/audit/audit-log';
import { TokenVerifier, trustedIssuer } from '../../../fhir-resources/auth/token-verifier';
import { AUDIENCE, startSecureFhir, type SecureFhirFixture } from './secure-fhir-fixture';

/*
 * An identity provider that signs with SM2 (issue 7: "RS256 and SM2 where the issuer uses it"). jose has no SM2, so
 * these tokens take the SM2 path (sm2-jws.ts) and then the same claim checks as every other token. The tokens are
 * made here with sm-crypto-v2, as such an IdP would: SM3 digest with the default signer id, alg SM2 or SM3withSM2,
 * the signature r‖s or DER.
 */
const ISSUER = 'https://idp.example-hospital.cn';
const USER_ID = '1234567812345678';
/** SubjectPublicKeyInfo header of an SM2 key (id-ecPublicKey, curve 1.2.156.10197.1.301) before the point. */
const SPKI_PREFIX = '3059301306072a8648ce3d020106082a811ccf5501822d034200';

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = (): number => Math.floor(Date.now() / 1000);

function sm2Token(claims: Record<string, unknown>, privateKey: string, options: { alg?: string; der?: boolean; kid?: string } = {}): string {
  const input = `${b64({ alg: options.alg ?? 'SM2', typ: 'JWT', ...(options.kid ? { kid: options.kid } : {}) })}.${b64(claims)}`;
  const signature = sm2.doSignature(input, privateKey, { hash: true, der: options.der ?? false, userId: USER_ID });
  return `${input}.${Buffer.from(signature, 'hex').toString('base64url')}`;
}

const adminClaims = (more: Record<string, unknown> = {}) => ({ iss: ISSUER, aud: AUDIENCE, sub: 'staff-001', role: 'admin', iat: now(), exp: now() + 600, ...more });

function keyFile(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('SM2-signed bearer tokens', () => {
  const idp = sm2.generateKeyPairHex();
  const pem = `-----BEGIN PUBLIC KEY-----\n${Buffer.from(SPKI_PREFIX + idp.publicKey, 'hex').toString('base64')}\n-----END PUBLIC KEY-----\n`;
  let dir: string;
  let fx: SecureFhirFixture;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-sm2-'));
    const issuer = await trustedIssuer({ issuer: ISSUER, algorithm: 'SM2', jwksFile: keyFile(dir, 'idp.pem', pem) });
    fx = await startSecureFhir('sqlite', 'aes-256-gcm', { issuers: [issuer] });
  });
  afterAll(async () => {
    await fx?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const call = (token: string) => request(fx.app).get('/fhir/Patient').set('Authorization', `Bearer ${token}`);

  it('accepts a token signed with SM2 (r‖s signature) by the configured issuer', async () => {
    expect((await call(sm2Token(adminClaims(), idp.privateKey))).status).toBe(200);
  });

  it('accepts the alg name SM3withSM2 and a DER-encoded signature', async () => {
    expect((await call(sm2Token(adminClaims(), idp.privateKey, { alg: 'SM3withSM2', der: true }))).status).toBe(200);
  });

  const refused: Record<string, { token: () => string; reason: string }> = {
    'with a tampered payload': {
      token: () => {
        const [header, , signature] = sm2Token(adminClaims({ role: 'patient', fhirUser: 'Patient/P1' }), idp.privateKey).split('.');
        return [header, b64(adminClaims()), signature].join('.');
      },
      reason: 'signature',
    },
    'signed with another key': { token: () => sm2Token(adminClaims(), sm2.generateKeyPairHex().privateKey), reason: 'signature' },
    expired: { token: () => sm2Token(adminClaims({ iat: now() - 7200, exp: now() - 3600 }), idp.privateKey), reason: 'expired' },
    'for another audience': { token: () => sm2Token(adminClaims({ aud: 'some-other-api' }), idp.privateKey), reason: 'audience' },
    'not yet valid': { token: () => sm2Token(adminClaims({ nbf: now() + 3600 }), idp.privateKey), reason: 'claims' },
  };

  it.each(Object.keys(refused))('refuses an SM2 token %s with 401 and audits the refusal', async (name) => {
    const before = Number((await fx.db(AUDIT_TABLE).where({ subtype: 'token-refused' }).count({ n: '*' }))[0].n);
    const res = await call(refused[name].token());
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    expect((res.body as OperationOutcome).issue?.[0].code).toBe('login');
    const rows = await fx.db(AUDIT_TABLE).where({ subtype: 'token-refused' }).orderBy('seq');
    expect(rows.length).toBe(before + 1);
    expect(rows[rows.length - 1]).toMatchObject({ outcome: '4', agent: 'anonymous' });
    expect(JSON.stringify(rows[rows.length - 1])).toContain(`401 ${refused[name].reason}`);
  });

  it('refuses an SM2 token naming an issuer that signs only with other algorithms', async () => {
    const res = await call(sm2Token({ ...adminClaims(), iss: 'urn:lingshu:demo-issuer' }, idp.privateKey));
    expect(res.status).toBe(401);
  });
});

describe('SM2 public keys from configuration', () => {
  const idp = sm2.generateKeyPairHex();
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-sm2-keys-')); });
  afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  const verifierOf = async (file: string, algorithm = 'SM2') => new TokenVerifier([await trustedIssuer({ issuer: ISSUER, algorithm, jwksFile: file })], AUDIENCE);

  it('reads a key file holding the public key as a hex point', async () => {
    const verifier = await verifierOf(keyFile(dir, 'idp.hex', `${idp.publicKey}\n`));
    expect((await verifier.verify(sm2Token(adminClaims(), idp.privateKey))).role).toBe('admin');
  });

  it('reads a JWKS whose SM2 key is kty EC, crv SM2, and picks it by kid', async () => {
    const other = sm2.generateKeyPairHex();
    const jwk = (kid: string, pub: string) => ({
      kty: 'EC', crv: 'SM2', kid, use: 'sig',
      x: Buffer.from(pub.slice(2, 66), 'hex').toString('base64url'), y: Buffer.from(pub.slice(66), 'hex').toString('base64url'),
    });
    const file = keyFile(dir, 'jwks.json', JSON.stringify({ keys: [jwk('old', other.publicKey), jwk('k2026', idp.publicKey)] }));
    const verifier = await verifierOf(file, 'RS256');
    expect((await verifier.verify(sm2Token(adminClaims(), idp.privateKey, { kid: 'k2026' }))).subject).toBe('staff-001');
    await expect(verifier.verify(sm2Token(adminClaims(), idp.privateKey, { kid: 'old' }))).rejects.toMatchObject({ reason: 'signature' });
  });

  it('refuses at start-up a key file that holds no SM2 key', async () => {
    await expect(verifierOf(keyFile(dir, 'bad.hex', 'not-a-key'))).rejects.toThrow(/SM2 public key/);
  });
});
