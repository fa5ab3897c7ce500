// The keys Kiln signs access tokens and id_tokens with (RS256, which SMART requires clients to
// accept). The first process to start creates a key pair and stores it in the database; every
// process loads them all, so any process verifies any token without asking the database again.
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { randomUUID } from 'node:crypto';
import type { Database } from '../store/database.js';

export const TOKEN_ALG = 'RS256';

export interface KeyRing {
  /** The key new tokens are signed with. */
  current: { kid: string; key: CryptoKey };
  /** Every key a token may have been signed with, by kid. */
  verification: Map<string, CryptoKey>;
  /** The public keys as a JWK Set, for `/.well-known/jwks.json`. */
  jwks: { keys: JWK[] };
}

interface KeyRow {
  kid: string;
  alg: string;
  private_jwk: JWK;
  public_jwk: JWK;
}

export async function loadKeyRing(db: Database): Promise<KeyRing> {
  let rows = await readKeys(db);
  if (!rows.length) {
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(4242002)');
      const again = await tx.query<{ n: string }>('SELECT count(*) AS n FROM kiln_signing_key');
      if (Number(again.rows[0].n) > 0) return;
      const pair = await generateKeyPair(TOKEN_ALG, { modulusLength: 2048, extractable: true });
      const kid = randomUUID();
      const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg: TOKEN_ALG, use: 'sig' };
      const privateJwk = { ...(await exportJWK(pair.privateKey)), kid, alg: TOKEN_ALG };
      await tx.query('INSERT INTO kiln_signing_key (kid, alg, private_jwk, public_jwk) VALUES ($1, $2, $3, $4)', [kid, TOKEN_ALG, JSON.stringify(privateJwk), JSON.stringify(publicJwk)]);
    });
    rows = await readKeys(db);
  }
  const verification = new Map<string, CryptoKey>();
  for (const row of rows) verification.set(row.kid, (await importJWK(row.public_jwk, row.alg)) as CryptoKey);
  const newest = rows[rows.length - 1];
  return {
    current: { kid: newest.kid, key: (await importJWK(newest.private_jwk, newest.alg)) as CryptoKey },
    verification,
    jwks: { keys: rows.map((row) => row.public_jwk) },
  };
}

async function readKeys(db: Database): Promise<KeyRow[]> {
  const result = await db.query<KeyRow>('SELECT kid, alg, private_jwk, public_jwk FROM kiln_signing_key ORDER BY created, kid');
  // PGlite returns jsonb parsed, pg too; a text column would need parsing, so accept both.
  return result.rows.map((row) => ({
    ...row,
    private_jwk: typeof row.private_jwk === 'string' ? (JSON.parse(row.private_jwk) as JWK) : row.private_jwk,
    public_jwk: typeof row.public_jwk === 'string' ? (JSON.parse(row.public_jwk) as JWK) : row.public_jwk,
  }));
}
