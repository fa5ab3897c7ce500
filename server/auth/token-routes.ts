// The token endpoint (RFC 6749 §3.2, SMART App Launch), token introspection (RFC 7662) and
// revocation (RFC 7009). Errors use the RFC 6749 codes as JSON, never a FHIR OperationOutcome.
import OAuth2Server from '@node-oauth/oauth2-server';
import express, { type Request, type Response } from 'express';
import type { AuthService } from './auth-service.js';
import { findClient } from './clients.js';
import { ASSERTION_TYPE, AssertionError, verifyClientAssertion } from './client-assertion.js';
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
  const [id, secret] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
  const client = id ? await findClient(auth.db, decodeURIComponent(id)) : undefined;
  if (!client?.active || client.kind !== 'confidential-symmetric' || !client.secretHash || !secret) return undefined;
  return sameSecret(sha256(decodeURIComponent(secret)), client.secretHash) ? client.clientId : undefined;
}

export function tokenRouter(auth: AuthService): express.Router {
  const router = express.Router();
  router.use(express.urlencoded({ extended: false, limit: '64kb' }));
  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store').set('Pragma', 'no-cache');
    next();
  });

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

  router.post('/introspect', async (req: Request, res: Response) => {
    const caller = await authenticatedClient(auth, req);
    if (!caller) {
      const bearer = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
      const valid = bearer ? await auth.tokens.verifyAccessToken(bearer).then(() => true, () => false) : false;
      if (!valid) {
        res.set('WWW-Authenticate', 'Basic realm="Kiln", Bearer realm="Kiln"');
        return oauthError(res, 401, 'invalid_client', 'introspection needs client authentication or a valid bearer token');
      }
    }
    const token = String((req.body as Record<string, string>).token ?? '');
    if (!token) return oauthError(res, 400, 'invalid_request', 'token is required');
    try {
      const claims = await auth.tokens.verifyAccessToken(token);
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
    if (!refresh) return void res.json({ active: false });
    const user = await findUser(auth.db, refresh.userId);
    res.json({
      active: Boolean(user?.active),
      scope: refresh.scope,
      client_id: refresh.clientId,
      sub: refresh.userId,
      exp: Math.floor(refresh.expires.getTime() / 1000),
      token_type: 'refresh_token',
      ...(user?.fhirUser ? { fhirUser: `${auth.fhirBaseUrl}/${user.fhirUser}` } : {}),
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
