// SMART Backend Services (hl7.org/fhir/smart-app-launch/backend-services.html) and
// private_key_jwt for confidential apps: the client proves itself with a JWT it signed with a key
// registered for it. Checked to the letter: RS384 or ES384; iss = sub = client_id; aud = the
// token URL; exp present and at most five minutes ahead; jti never seen before; the key from the
// registered JWKS or JWKS URL, never from a `jku` the client did not register.
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Database } from '../store/database.js';
import { findClient } from './clients.js';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ALGORITHMS = ['RS384', 'ES384'];
const MAX_LIFETIME_SECONDS = 300;

export class AssertionError extends Error {}

const remoteSets = new Map<string, JWTVerifyGetKey>();

/** The client id a valid assertion authenticates; AssertionError (→ invalid_client) otherwise. */
export async function verifyClientAssertion(db: Database, assertion: string, tokenUrl: string): Promise<string> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claims: { iss?: string; sub?: string };
  try {
    header = decodeProtectedHeader(assertion);
    claims = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iss?: string; sub?: string };
  } catch {
    throw new AssertionError('client_assertion is not a JWT');
  }
  if (!header.alg || !ALGORITHMS.includes(header.alg)) throw new AssertionError(`client_assertion must be signed with ${ALGORITHMS.join(' or ')}, not ${header.alg ?? 'nothing'}`);
  if (!claims.iss || claims.iss !== claims.sub) throw new AssertionError('client_assertion: iss and sub must both be the client_id');
  const client = await findClient(db, claims.iss);
  if (!client || !client.active || client.kind !== 'confidential-asymmetric') throw new AssertionError('client_assertion: no such client signs its assertions');
  if (header.jku !== undefined && header.jku !== client.jwksUri) throw new AssertionError('client_assertion: jku is not the JWKS URL registered for this client');

  let keys: JWTVerifyGetKey;
  if (client.jwksUri) {
    keys = remoteSets.get(client.jwksUri) ?? createRemoteJWKSet(new URL(client.jwksUri), { timeoutDuration: 5000 });
    remoteSets.set(client.jwksUri, keys);
  } else {
    keys = createLocalJWKSet(client.jwks ?? { keys: [] });
  }
  let payload: { exp?: number; jti?: string };
  try {
    ({ payload } = await jwtVerify(assertion, keys, { algorithms: ALGORITHMS, issuer: client.clientId, subject: client.clientId, audience: tokenUrl, requiredClaims: ['exp', 'jti'] }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new AssertionError('client_assertion has expired');
    if (error instanceof joseErrors.JWTClaimValidationFailed) throw new AssertionError(`client_assertion: the ${error.claim} claim is not valid (aud must be ${tokenUrl})`);
    throw new AssertionError('client_assertion: the signature does not verify with the keys registered for this client');
  }
  const now = Math.floor(Date.now() / 1000);
  if ((payload.exp as number) > now + MAX_LIFETIME_SECONDS) throw new AssertionError('client_assertion: exp may be at most five minutes ahead');
  // The jti is remembered until the assertion expires: a replay meets the primary key.
  const fresh = await db.query(
    'INSERT INTO kiln_assertion_jti (client_id, jti, expires) VALUES ($1, $2, to_timestamp($3)) ON CONFLICT DO NOTHING',
    [client.clientId, payload.jti, payload.exp],
  );
  if (fresh.rowCount === 0) throw new AssertionError('client_assertion: this jti has been used before');
  await db.query('DELETE FROM kiln_assertion_jti WHERE expires < now()');
  return client.clientId;
}
