// The storage side of `@node-oauth/oauth2-server` (its "model"): clients, authorization codes,
// tokens and scope decisions, on Kiln's tables. The library runs the grants (authorization_code
// with PKCE, refresh_token with rotation, client_credentials) and client secret checks; Kiln adds
// what SMART needs on top: signed JWT access tokens, launch context, id_token, scope rules.
import type { AuthorizationCode, AuthorizationCodeModel, ClientCredentialsModel, RefreshToken, RefreshTokenModel, Token, Client as OAuthClient, User as OAuthUser } from '@node-oauth/oauth2-server';
import type { Database } from '../store/database.js';
import { findClient, type Client } from './clients.js';
import { formatScopes, grantScopes, parseScopes } from './scopes.js';
import { newToken, sameSecret, sha256 } from './secrets.js';
import { findRefreshToken, revokeRefreshToken, saveRefreshToken, type LaunchContext, type TokenService, type TokenSubject } from './tokens.js';
import { findUser } from './users.js';

/** What a user (or a backend client) carries through the library: who, and the launch context. */
export interface SessionUser extends OAuthUser, TokenSubject {
  id: string;
  context: LaunchContext;
}

/**
 * Clients a verified private_key_jwt assertion authenticated, by a one-time proof the token route
 * hands the library in place of a secret. (An AsyncLocalStorage would carry it too, but turns on
 * promise hooks that slow every request of the process.)
 */
const assertedClients = new Map<string, string>();

/** A proof, valid once, that `clientId` authenticated with a signed assertion in this request. */
export function assertionProof(clientId: string): { proof: string; forget: () => void } {
  const proof = `asserted:${newToken()}`;
  assertedClients.set(proof, clientId);
  return { proof, forget: () => assertedClients.delete(proof) };
}

export interface ModelOptions {
  db: Database;
  tokens: TokenService;
  refreshTokenSeconds: { offline: number; online: number };
}

type KilnModel = AuthorizationCodeModel & RefreshTokenModel & ClientCredentialsModel;

const toOAuthClient = (client: Client): OAuthClient => ({ id: client.clientId, grants: client.grantTypes, redirectUris: client.redirectUris, kiln: client });
const kilnClient = (client: OAuthClient) => client.kiln as Client;

export function oauthModel({ db, tokens, refreshTokenSeconds }: ModelOptions): KilnModel {
  const subjectOf = (user: SessionUser): TokenSubject => ({ sub: user.id, role: user.role, fhirUser: user.fhirUser });
  return {
    async getClient(clientId: string, clientSecret: string | null) {
      const client = await findClient(db, clientId);
      if (!client || !client.active) return false;
      const asserted = clientSecret !== null && assertedClients.get(clientSecret) === clientId;
      switch (client.kind) {
        case 'public':
          // A public client has no secret; one that sends one is not who it says.
          if (clientSecret) return false;
          break;
        case 'confidential-symmetric':
          // clientSecret null: the authorize step, where no secret is sent.
          if (clientSecret !== null && !(clientSecret && !asserted && client.secretHash && sameSecret(sha256(clientSecret), client.secretHash))) return false;
          break;
        case 'confidential-asymmetric':
          if (clientSecret !== null && !asserted) return false;
          break;
      }
      return toOAuthClient(client);
    },

    async saveAuthorizationCode(code, client, user) {
      const session = user as SessionUser;
      await db.query(
        `INSERT INTO kiln_authorization_code (code_hash, client_id, user_id, redirect_uri, scope, code_challenge, code_challenge_method, context, expires)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [sha256(code.authorizationCode), client.id, session.id, code.redirectUri, (code.scope ?? []).join(' '), code.codeChallenge, code.codeChallengeMethod, JSON.stringify(session.context), code.expiresAt],
      );
      return { ...code, client, user } as AuthorizationCode;
    },

    async getAuthorizationCode(authorizationCode: string) {
      const row = (
        await db.query<{ client_id: string; user_id: string; redirect_uri: string; scope: string; code_challenge: string; code_challenge_method: string; context: LaunchContext | string; expires: Date }>(
          'SELECT * FROM kiln_authorization_code WHERE code_hash = $1',
          [sha256(authorizationCode)],
        )
      ).rows[0];
      if (!row) return false;
      const user = await findUser(db, row.user_id);
      if (!user?.active) return false;
      const context = typeof row.context === 'string' ? (JSON.parse(row.context) as LaunchContext) : row.context;
      const session: SessionUser = { id: user.id, sub: user.id, role: user.role, fhirUser: user.fhirUser, context };
      return {
        authorizationCode,
        expiresAt: row.expires,
        redirectUri: row.redirect_uri,
        scope: row.scope.split(' ').filter(Boolean),
        codeChallenge: row.code_challenge,
        codeChallengeMethod: row.code_challenge_method,
        client: { id: row.client_id, grants: [] },
        user: session,
      };
    },

    async revokeAuthorizationCode(code) {
      // A code works once: whoever deletes it first wins, a replay finds nothing.
      const result = await db.query('DELETE FROM kiln_authorization_code WHERE code_hash = $1', [sha256(code.authorizationCode)]);
      return result.rowCount > 0;
    },

    async generateAccessToken(client, user, scope) {
      const session = user as SessionUser;
      const issued = await tokens.issueAccessToken(subjectOf(session), client.id, (scope ?? []).join(' '), session.context);
      return issued.token;
    },

    async saveToken(token, client, user) {
      const session = user as SessionUser;
      const scopes = parseScopes((token.scope ?? []).join(' '));
      const saved: Token = {
        accessToken: token.accessToken,
        accessTokenExpiresAt: token.accessTokenExpiresAt,
        scope: token.scope,
        client,
        user,
      };
      // A refresh token only for offline_access or online_access, and only for a signed-in user.
      if (token.refreshToken !== undefined && (scopes.offlineAccess || scopes.onlineAccess) && session.role !== 'system') {
        const seconds = scopes.offlineAccess ? refreshTokenSeconds.offline : refreshTokenSeconds.online;
        const expires = new Date(Date.now() + seconds * 1000);
        saved.refreshToken = await saveRefreshToken(db, { clientId: client.id, userId: session.id, scope: (token.scope ?? []).join(' '), context: session.context, expires });
        saved.refreshTokenExpiresAt = expires;
      }
      // Launch context and id_token travel as extra members of the token response.
      if (session.context.patient) saved.patient = session.context.patient;
      if (session.context.encounter) saved.encounter = session.context.encounter;
      if (session.context.patient) saved.need_patient_banner = session.context.need_patient_banner ?? true;
      if (scopes.openid && session.role !== 'system') {
        saved.id_token = await tokens.issueIdToken(subjectOf(session), client.id, scopes.fhirUser, session.context.nonce);
      }
      return saved;
    },

    async getRefreshToken(refreshToken: string) {
      const stored = await findRefreshToken(db, refreshToken);
      if (!stored) return false;
      const user = await findUser(db, stored.userId);
      if (!user?.active) return false;
      const session: SessionUser = { id: user.id, sub: user.id, role: user.role, fhirUser: user.fhirUser, context: stored.context };
      return { refreshToken, refreshTokenExpiresAt: stored.expires, scope: stored.scope.split(' ').filter(Boolean), client: { id: stored.clientId, grants: [] }, user: session } as RefreshToken;
    },

    async revokeToken(token) {
      return revokeRefreshToken(db, token.refreshToken);
    },

    async getUserFromClient(client) {
      const session: SessionUser = { id: client.id, sub: client.id, role: 'system', fhirUser: null, context: {} };
      return session;
    },

    /**
     * The scopes granted: those asked for that the client is registered for. A scope Kiln does
     * not know, or one the client may not have, refuses the request (invalid_scope): nothing is
     * granted silently. Backend services may only hold system/ scopes, users never.
     */
    async validateScope(user, client, scope) {
      const requested = parseScopes((scope ?? []).join(' '));
      const { granted, refused } = grantScopes(requested, parseScopes(kilnClient(client)?.scope ?? ''));
      const session = user as SessionUser;
      const wrongContext = granted.resources.filter((s) => (session.role === 'system') !== (s.context === 'system'));
      if (refused.length || wrongContext.length || requested.unknown.length) return false;
      const text = formatScopes(granted);
      return text ? text.split(' ') : false;
    },

    async verifyScope() {
      // Kiln checks scopes itself on every FHIR interaction (server/auth/access.ts).
      return false;
    },

    async getAccessToken() {
      // Access tokens are verified by TokenService, never looked up.
      return false;
    },
  } as KilnModel;
}
