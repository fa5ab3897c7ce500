// The token endpoint (RFC 6749 §3.2, SMART App Launch), token introspection (RFC 7662) and
// revocation (RFC 7009). Errors use the RFC 6749 codes as JSON, never a FHIR OperationOutcome.
import OAuth2Server from '@node-oauth/oauth2-server';
import express, { type Request, type Response } from 'express';
import type { AuthService } from './auth-service.js';
import { findClient } from './clients.js';
import { ASSERTION_TYPE, AssertionError, verifyClientAssertion } from './client-assertion.js';
import { oauthFormBody } from './oauth-form.js';
import { assertionProof } from './oauth-model.js';
import { sameSecret, sha256 } from './secrets.js';
import { findRefreshToken, InvalidToken, revokeRefreshToken } from './tokens.js';
import { findUser } from './users.js';

const { Request: OAuthRequest, Response: OAuthResponse, OAuthError } = OAuth2Server;

function oauthError(res: Response, status: number, error: string, description: string): void {
  res.status(status).set('Cache-Control', 'no-store').json({ error, error_description: description });
}

/** The RFC 6749 code of one of the library's errors (it names them in snake_case already). */
function sendLibraryError(res: Response, error: unknown): void {
  if (error instanceof OAuthError) {
    const name = error.name === 'unauthorized_request' ? 'invalid_request' : error.name;
    oauthError(res, error.code ?? 400, name, error.message.replace(/^[A-Za-z ]+: /, ''));
    return;
  }
  throw error;
}

/** The authenticated client of an introspection or revocation call: basic secret or signed assertion. */
async function authenticatedClient(auth: AuthService, req: Request): Promise<string | undefined> {
  const body = req.body as Record<string, string>;
  if (body.client_assertion_type === ASSERTION_TYPE && body.client_assertion) {
    return verifyClientAssertion(auth.db, body.client_assertion, `${auth.authBaseUrl}/${req.path === '/introspect' ? 'introspect' : 'revoke'}`).catch(() => undefined);
  }
  const header = req.get('authorization') ?? '';
  if (!header.startsWith('Basic ')) return undefined;
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined with a colon.
  const [id, secret] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':').map(formDecoded);
  const client = id ? await findClient(auth.db, id) : undefined;
  if (!client?.active || client.kind !== 'confidential-symmetric' || !client.secretHash || !secret) return undefined;
  return sameSecret(sha256(secret), client.secretHash) ? client.clientId : undefined;
}

/** A form-urlencoded value decoded; undefined (no such client, no secret) when it is malformed. */
function formDecoded(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

const ADMINISTRATOR = Symbol('administrator');

/**
 * Who may be told about tokens at the introspection endpoint: an authenticated client (its id), an
 * administrator's bearer token, or no one (undefined). A bearer token of any other role is no one:
 * a patient's or a practitioner's token would otherwise learn the subjects and scopes of others.
 */
async function introspectionCaller(auth: AuthService, req: Request): Promise<string | typeof ADMINISTRATOR | undefined> {
  const client = await authenticatedClient(auth, req);
  if (client) return client;
  const bearer = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(req.get('authorization') ?? '')?.[1];
  const claims = bearer ? await auth.tokens.verifyAccessToken(bearer).catch(() => undefined) : undefined;
  return claims?.role === 'admin' ? ADMINISTRATOR : undefined;
}

export function tokenRouter(auth: AuthService): express.Router {
  const router = express.Router();
  router.post(['/token', '/revoke', '/introspect'], (_req, res, next) => {
    res.set('Cache-Control', 'no-store').set('Pragma', 'no-cache');
    next();
  });
  router.post(['/token', '/revoke', '/introspect'], oauthFormBody((res, description) => oauthError(res, 400, 'invalid_request', description)));

  router.post('/token', async (req: Request, res: Response) => {
    const body = req.body as Record<string, string>;
    let assertedClientId: string | undefined;
    if (body.client_assertion_type !== undefined || body.client_assertion !== undefined) {
      if (body.client_assertion_type !== ASSERTION_TYPE) return oauthError(res, 400, 'invalid_request', `client_assertion_type must be ${ASSERTION_TYPE}`);
      try {
        assertedClientId = await verifyClientAssertion(auth.db, String(body.client_assertion), `${auth.authBaseUrl}/token`);
      } catch (error) {
        if (error instanceof AssertionError) return oauthError(res, 401, 'invalid_client', error.message);
        throw error;
      }
      if (body.client_id !== undefined && body.client_id !== assertedClientId) return oauthError(res, 401, 'invalid_client', 'client_id does not match the assertion');
      body.client_id = assertedClientId;
    }
    const proof = assertedClientId ? assertionProof(assertedClientId) : undefined;
    if (proof) body.client_secret = proof.proof;
    // SMART: a public app refreshes with the refresh token alone; its client is the token's.
    if (body.grant_type === 'refresh_token' && !body.client_id && !assertedClientId && !req.get('authorization') && body.refresh_token) {
      const stored = await findRefreshToken(auth.db, String(body.refresh_token));
      const owner = stored ? await findClient(auth.db, stored.clientId) : undefined;
      if (owner?.kind === 'public') body.client_id = owner.clientId;
    }
    const request = new OAuthRequest(req);
    const response = new OAuthResponse(res);
    try {
      await auth.oauth.token(request, response);
      res.set(response.headers).status(response.status ?? 200).json(response.body);
    } catch (error) {
      // The library sets WWW-Authenticate when a client that tried Basic authentication failed.
      res.set(response.headers);
      sendLibraryError(res, error);
    } finally {
      proof?.forget();
    }
  });

  // RFC 7662 §2.1: the caller must be authorized to introspect. Here that is the client the token
  // was issued to, authenticated as that client, or an administrator's bearer token; another
  // authenticated client learns only that the token is not active for it (§2.2).
  router.post('/introspect', async (req: Request, res: Response) => {
    const caller = await introspectionCaller(auth, req);
    if (!caller) {
      res.set('WWW-Authenticate', 'Basic realm="Kiln", Bearer realm="Kiln"');
      return oauthError(res, 401, 'invalid_client', "introspection needs the authentication of the client that holds the token, or an administrator's bearer token");
    }
    const token = String((req.body as Record<string, string>).token ?? '');
    if (!token) return oauthError(res, 400, 'invalid_request', 'token is required');
    const mayKnow = (clientId: string) => caller === ADMINISTRATOR || caller === clientId;
    try {
      const claims = await auth.tokens.verifyAccessToken(token);
      if (!mayKnow(claims.clientId)) return void res.json({ active: false });
      res.json({
        active: true,
        scope: claims.scope,
        client_id: claims.clientId,
        sub: claims.sub,
        exp: claims.exp,
        iat: claims.iat,
        iss: auth.fhirBaseUrl,
        aud: auth.fhirBaseUrl,
        token_type: 'Bearer',
        ...(claims.fhirUser ? { fhirUser: `${auth.fhirBaseUrl}/${claims.fhirUser}` } : {}),
        ...(claims.context.patient ? { patient: claims.context.patient } : {}),
        ...(claims.context.encounter ? { encounter: claims.context.encounter } : {}),
      });
      return;
    } catch (error) {
      if (!(error instanceof InvalidToken)) throw error;
    }
    const refresh = await findRefreshToken(auth.db, token);
    if (!refresh || !mayKnow(refresh.clientId)) return void res.json({ active: false });
    const user = await findUser(auth.db, refresh.userId);
    if (!user?.active) return void res.json({ active: false });
    res.json({
      active: true,
      scope: refresh.scope,
      client_id: refresh.clientId,
      sub: refresh.userId,
      exp: Math.floor(refresh.expires.getTime() / 1000),
      token_type: 'refresh_token',
      ...(user.fhirUser ? { fhirUser: `${auth.fhirBaseUrl}/${user.fhirUser}` } : {}),
      ...(refresh.context.patient ? { patient: refresh.context.patient } : {}),
    });
  });

  // RFC 7009: the answer is 200 whether or not the token was known, so it reveals nothing.
  router.post('/revoke', async (req: Request, res: Response) => {
    const body = req.body as Record<string, string>;
    const token = String(body.token ?? '');
    if (!token) return oauthError(res, 400, 'invalid_request', 'token is required');
    const caller = await authenticatedClient(auth, req);
    const publicClient = !caller && body.client_id ? await findClient(auth.db, body.client_id) : undefined;
    const clientId = caller ?? (publicClient?.kind === 'public' && publicClient.active ? publicClient.clientId : undefined);
    if (!clientId) return oauthError(res, 401, 'invalid_client', 'revocation needs the client that holds the token');
    const claims = await auth.tokens.verifyAccessToken(token).catch(() => undefined);
    if (claims && claims.clientId === clientId) await auth.tokens.revokeAccessToken(auth.db, claims);
    else await revokeRefreshToken(auth.db, token, clientId);
    res.status(200).end();
  });
  return router;
}
