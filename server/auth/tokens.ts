// Access tokens are JWTs signed by Kiln (RS256): any Kiln process verifies them with the public
// keys it loaded at start, without the database. A revocation is stored and announced in the same
// statement (Postgres NOTIFY on REVOCATION_CHANNEL), which every process hears at once; each also
// re-reads the whole list now and then, and after its listening connection was lost. Refresh
// tokens are random values stored as hashes, rotated on every use.
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../store/database.js';
import { TOKEN_ALG, type KeyRing } from './signing-keys.js';
import { newToken, sha256 } from './secrets.js';

/** The launch context a token carries (SMART App Launch §launch context). */
export interface LaunchContext {
  patient?: string;
  encounter?: string;
  /** OpenID Connect nonce, echoed in the id_token. */
  nonce?: string;
  need_patient_banner?: boolean;
}

/** Who a token speaks for: a signed-in user, or a backend client on its own behalf. */
export interface TokenSubject {
  /** A user id, or for client_credentials the client id. */
  sub: string;
  role: 'admin' | 'practitioner' | 'patient' | 'device' | 'system';
  fhirUser?: string | null;
}

export interface AccessClaims extends TokenSubject {
  clientId: string;
  scope: string;
  jti: string;
  exp: number;
  iat: number;
  context: LaunchContext;
}

export class InvalidToken extends Error {}

const VERIFIED_CACHE_SIZE = 10_000;

/** The notification channel of revocations; the payload is the revoked token's jti. */
export const REVOCATION_CHANNEL = 'kiln_token_revoked';

export class TokenService {
  /** Revoked jtis, each with the turn (of `learned`) at which this process learned it. */
  private revoked = new Map<string, number>();
  private learned = 0;

  constructor(
    private readonly keys: KeyRing,
    /** The FHIR base URL: the tokens' issuer and audience. */
    readonly issuer: string,
    readonly accessTokenSeconds: number,
  ) {}

  async issueAccessToken(subject: TokenSubject, clientId: string, scope: string, context: LaunchContext): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.accessTokenSeconds;
    const claims: JWTPayload = { client_id: clientId, scope, role: subject.role };
    if (subject.fhirUser) claims.fhirUser = subject.fhirUser;
    if (context.patient) claims.patient = context.patient;
    if (context.encounter) claims.encounter = context.encounter;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: TOKEN_ALG, kid: this.keys.current.kid, typ: 'at+jwt' })
      .setIssuer(this.issuer)
      .setAudience(this.issuer)
      .setSubject(subject.sub)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(this.keys.current.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** OpenID Connect id_token (RS256), with fhirUser when the client asked for it. */
  async issueIdToken(subject: TokenSubject, clientId: string, withFhirUser: boolean, nonce: string | undefined): Promise<string> {
    const claims: JWTPayload = {};
    if (withFhirUser && subject.fhirUser) claims.fhirUser = `${this.issuer}/${subject.fhirUser}`;
    if (nonce) claims.nonce = nonce;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: TOKEN_ALG, kid: this.keys.current.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(clientId)
      .setSubject(subject.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + this.accessTokenSeconds)
      .sign(this.keys.current.key);
  }

  /** Tokens verified already, so a client's every request does not pay for the signature again. */
  private verified = new Map<string, AccessClaims>();

  /**
   * The claims of a token this process verified before, checked again for expiry and revocation
   * (InvalidToken); undefined when its signature still has to be verified. No promise: a client's
   * every request after its first takes this path.
   */
  knownAccessToken(token: string): AccessClaims | undefined {
    const known = this.verified.get(token);
    if (known) {
      if (known.exp * 1000 <= Date.now()) throw new InvalidToken('the token has expired');
      if (this.revoked.has(known.jti)) throw new InvalidToken('the token has been revoked');
    }
    return known;
  }

  /** The claims of a valid access token; InvalidToken says why one is not. */
  async verifyAccessToken(token: string): Promise<AccessClaims> {
    const known = this.knownAccessToken(token);
    if (known) return known;
    const claims = await this.verifySignedToken(token);
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
    this.verified.set(token, claims);
    return claims;
  }

  private async verifySignedToken(token: string): Promise<AccessClaims> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, async (header) => {
        const key = header.kid ? this.keys.verification.get(header.kid) : undefined;
        if (!key) throw new InvalidToken('the token was not signed by this server');
        return key;
      }, { algorithms: [TOKEN_ALG], issuer: this.issuer, audience: this.issuer, typ: 'at+jwt', requiredClaims: ['exp', 'iat', 'jti', 'sub'] }));
    } catch (error) {
      if (error instanceof InvalidToken) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new InvalidToken('the token has expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed) throw new InvalidToken(`the token's ${error.claim} claim is not valid here`);
      throw new InvalidToken('the token is malformed or its signature is not valid');
    }
    if (this.revoked.has(payload.jti as string)) throw new InvalidToken('the token has been revoked');
    return {
      sub: payload.sub as string,
      role: payload.role as AccessClaims['role'],
      fhirUser: (payload.fhirUser as string | undefined) ?? null,
      clientId: String(payload.client_id),
      scope: String(payload.scope ?? ''),
      jti: payload.jti as string,
      exp: payload.exp as number,
      iat: payload.iat as number,
      context: { patient: payload.patient as string | undefined, encounter: payload.encounter as string | undefined },
    };
  }

  /** Stores the revocation and tells every process, in one statement: the news leaves only if the row is committed. */
  async revokeAccessToken(q: Queryable, claims: AccessClaims): Promise<void> {
    await q.query(
      `WITH stored AS (INSERT INTO kiln_revoked_access_token (jti, expires) VALUES ($1, to_timestamp($2)) ON CONFLICT DO NOTHING)
       SELECT pg_notify('${REVOCATION_CHANNEL}', $1)`,
      [claims.jti, claims.exp],
    );
    this.learnRevocation(claims.jti);
  }

  /** A revocation this process made or was told about. */
  learnRevocation(jti: string): void {
    this.revoked.set(jti, ++this.learned);
  }

  /**
   * Reads the whole list again; expired revocations are forgotten (their tokens fail anyway). One
   * learned while the list was being read is kept, though the read may have missed it.
   */
  async refreshRevocations(db: Database): Promise<void> {
    const before = this.learned;
    const rows = await db.query<{ jti: string }>('SELECT jti FROM kiln_revoked_access_token WHERE expires > now()');
    const fresh = new Map(rows.rows.map((row) => [row.jti, before]));
    for (const [jti, turn] of this.revoked) if (turn > before) fresh.set(jti, turn);
    this.revoked = fresh;
  }
}

export interface StoredRefreshToken {
  clientId: string;
  userId: string;
  scope: string;
  context: LaunchContext;
  expires: Date;
}

export async function saveRefreshToken(q: Queryable, stored: StoredRefreshToken): Promise<string> {
  const token = newToken();
  await q.query('INSERT INTO kiln_refresh_token (token_hash, client_id, user_id, scope, context, expires) VALUES ($1, $2, $3, $4, $5, $6)', [
    sha256(token),
    stored.clientId,
    stored.userId,
    stored.scope,
    JSON.stringify(stored.context),
    stored.expires,
  ]);
  return token;
}

/** A refresh token that is neither revoked nor expired. */
export async function findRefreshToken(q: Queryable, token: string): Promise<StoredRefreshToken | undefined> {
  const row = await q.query<{ client_id: string; user_id: string; scope: string; context: LaunchContext | string; expires: Date }>(
    'SELECT client_id, user_id, scope, context, expires FROM kiln_refresh_token WHERE token_hash = $1 AND NOT revoked AND expires > now()',
    [sha256(token)],
  );
  const r = row.rows[0];
  if (!r) return undefined;
  return { clientId: r.client_id, userId: r.user_id, scope: r.scope, context: typeof r.context === 'string' ? (JSON.parse(r.context) as LaunchContext) : r.context, expires: r.expires };
}

export async function revokeRefreshToken(q: Queryable, token: string, clientId?: string): Promise<boolean> {
  const result = await q.query('UPDATE kiln_refresh_token SET revoked = true WHERE token_hash = $1 AND ($2::text IS NULL OR client_id = $2) AND NOT revoked', [sha256(token), clientId ?? null]);
  return result.rowCount > 0;
}
