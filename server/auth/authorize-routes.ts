// The authorization endpoint (SMART App Launch 2.x, authorization code flow with PKCE): checks the
// request, signs the user in, lets a practitioner pick the patient for a standalone launch, asks
// for consent, then hands over to `@node-oauth/oauth2-server` to mint the code. Plain HTML forms,
// by GET or POST; each step carries the request and a short-lived signed session forward.
import OAuth2Server from '@node-oauth/oauth2-server';
import express, { type Request, type Response } from 'express';
import { jwtVerify, SignJWT } from 'jose';
import type { FhirContext } from '../fhir/context.js';
import { search } from '../fhir/interactions/search.js';
import { readCurrent } from '../store/resource-store.js';
import type { AuthService } from './auth-service.js';
import { findClient, type Client } from './clients.js';
import type { SessionUser } from './oauth-model.js';
import { consentPage, describeScope, errorPage, loginPage, patientPickerPage, type HiddenFields } from './pages.js';
import { grantScopes, parseScopes, type ParsedScopes } from './scopes.js';
import { sha256 } from './secrets.js';
import { TOKEN_ALG } from './signing-keys.js';
import type { LaunchContext } from './tokens.js';
import { authenticate, findUser, type User } from './users.js';

const { Request: OAuthRequest, Response: OAuthResponse } = OAuth2Server;
const PARAMETERS = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'aud', 'code_challenge', 'code_challenge_method', 'launch', 'nonce'] as const;
type AuthorizeParameters = Partial<Record<(typeof PARAMETERS)[number], string>>;
const SESSION_SECONDS = 600;

/** Refused before the redirect URI is trusted: shown as a page, never redirected. */
class PageError extends Error {}
/** Refused after: sent back to the app's registered redirect URI (RFC 6749 §4.1.2.1). */
class RedirectError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Checked {
  params: AuthorizeParameters;
  client: Client;
  redirectUri: string;
  scopes: ParsedScopes;
  launch: LaunchContext;
}

export function authorizeRouter(auth: AuthService, ctx: FhirContext): express.Router {
  const router = express.Router();
  router.use(express.urlencoded({ extended: false, limit: '64kb' }));
  const action = `${auth.authBaseUrl}/authorize`;

  const sign = (user: User, params: AuthorizeParameters, patient?: string) =>
    new SignJWT({ req: requestHash(params), ...(patient ? { patient } : {}) })
      .setProtectedHeader({ alg: TOKEN_ALG, kid: auth.keys.current.kid, typ: 'kiln-authorize' })
      .setSubject(user.id)
      .setAudience(action)
      .setIssuer(auth.fhirBaseUrl)
      .setExpirationTime(`${SESSION_SECONDS}s`)
      .sign(auth.keys.current.key);

  /** The signed-in user of this authorization request, if its session is valid and for this very request. */
  const sessionOf = async (token: string | undefined, params: AuthorizeParameters): Promise<{ user: User; patient?: string } | undefined> => {
    if (!token) return undefined;
    try {
      const { payload } = await jwtVerify(token, auth.keys.verification.get(auth.keys.current.kid) as CryptoKey, { algorithms: [TOKEN_ALG], audience: action, issuer: auth.fhirBaseUrl, typ: 'kiln-authorize' });
      if (payload.req !== requestHash(params)) return undefined;
      const user = await findUser(auth.db, String(payload.sub));
      return user?.active ? { user, patient: payload.patient as string | undefined } : undefined;
    } catch {
      return undefined;
    }
  };

  const check = async (params: AuthorizeParameters): Promise<Checked> => {
    const client = params.client_id ? await findClient(auth.db, params.client_id) : undefined;
    if (!client?.active) throw new PageError('The application is not registered with this server (unknown client_id).');
    if (!client.grantTypes.includes('authorization_code')) throw new PageError('This application is not allowed to sign users in.');
    const redirectUri = params.redirect_uri;
    if (!redirectUri || !client.redirectUris.includes(redirectUri)) throw new PageError('The redirect_uri is not one registered for this application.');
    if (params.response_type !== 'code') throw new RedirectError('unsupported_response_type', 'response_type must be code');
    if (!params.state) throw new RedirectError('invalid_request', 'state is required');
    if (!params.code_challenge || params.code_challenge_method !== 'S256') throw new RedirectError('invalid_request', 'PKCE is required: code_challenge with code_challenge_method S256');
    if (!/^[A-Za-z0-9_-]{43}$/.test(params.code_challenge)) throw new RedirectError('invalid_request', 'code_challenge must be a base64url SHA-256 hash');
    if (!params.aud || params.aud.replace(/\/+$/, '') !== auth.fhirBaseUrl) throw new RedirectError('invalid_request', `aud must be this FHIR server: ${auth.fhirBaseUrl}`);
    const scopes = parseScopes(params.scope);
    if (scopes.unknown.length) throw new RedirectError('invalid_scope', `unknown scopes: ${scopes.unknown.join(' ')}`);
    if (!scopes.resources.length && !scopes.openid) throw new RedirectError('invalid_scope', 'no scope was asked for');
    if (scopes.resources.some((s) => s.context === 'system')) throw new RedirectError('invalid_scope', 'system/ scopes are for backend services (client_credentials)');
    const { refused } = grantScopes(scopes, parseScopes(client.scope));
    if (refused.length) throw new RedirectError('invalid_scope', `the application may not ask for: ${refused.join(' ')}`);
    const launch: LaunchContext = { nonce: params.nonce };
    if (params.launch) {
      if (!scopes.launch) throw new RedirectError('invalid_scope', 'an EHR launch needs the launch scope');
      const row = await auth.db.query<{ patient: string | null; encounter: string | null }>('SELECT patient, encounter FROM kiln_launch WHERE id = $1 AND expires > now()', [params.launch]);
      if (!row.rows[0]) throw new RedirectError('invalid_request', 'the launch has expired or is unknown');
      if (row.rows[0].patient) launch.patient = row.rows[0].patient;
      if (row.rows[0].encounter) launch.encounter = row.rows[0].encounter;
    } else if (scopes.launch) {
      throw new RedirectError('invalid_request', 'the launch scope needs the launch parameter from the EHR');
    }
    return { params, client, redirectUri, scopes, launch };
  };

  const handle = async (req: Request, res: Response) => {
    const input = { ...(req.query as Record<string, string>), ...(req.body as Record<string, string>) };
    const params: AuthorizeParameters = {};
    for (const name of PARAMETERS) if (typeof input[name] === 'string') params[name] = input[name];
    const hidden: HiddenFields = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as HiddenFields;
    let checked: Checked;
    try {
      checked = await check(params);
    } catch (error) {
      return sendAuthorizeError(res, error, params);
    }
    const clientName = checked.client.name;

    // 1. Sign in.
    let session = await sessionOf(input.session, params);
    if (!session) {
      if (input.step !== 'login') return void res.status(200).type('html').send(loginPage({ action, hidden: { ...hidden, step: 'login' }, clientName }));
      const result = await authenticate(auth.db, String(input.username ?? ''), String(input.password ?? ''), auth.login);
      if (!result.ok) {
        const error = result.reason === 'locked' ? 'Too many failed attempts: this account is locked for a while.' : 'The username or password is not right.';
        return void res.status(401).type('html').send(loginPage({ action, hidden: { ...hidden, step: 'login' }, clientName, username: String(input.username ?? ''), error }));
      }
      session = { user: result.user };
    }
    const { user } = session;
    const ownPatient = user.role === 'patient' ? user.fhirUser?.split('/')[1] : undefined;
    const context: LaunchContext = { ...checked.launch };
    // A patient sees only their own record, also when an EHR launch names another patient.
    if (ownPatient && context.patient && context.patient !== ownPatient) {
      return sendAuthorizeError(res, new RedirectError('access_denied', 'the launch is for another patient'), params);
    }

    // 2. The patient of a standalone launch: the user's own, or chosen by a practitioner.
    let patient = context.patient ?? session.patient ?? ownPatient;
    if (checked.scopes.launchPatient && !patient && input.step === 'pick' && input.patient) {
      const chosen = await readCurrent(ctx.db, 'Patient', String(input.patient));
      if (chosen && !chosen.deleted) patient = chosen.id;
    }
    if (checked.scopes.launchPatient && !patient) {
      const q = String(input.q ?? '');
      const found = JSON.parse(await search(ctx, 'Patient', [...(q ? [['name', q] as [string, string]] : []), ['_count', '20'], ['_sort', 'family']], { lenient: false })) as {
        entry?: { resource: { id: string; name?: { text?: string; family?: string; given?: string[] }[]; birthDate?: string } }[];
      };
      const patients = (found.entry ?? []).map(({ resource }) => {
        const name = resource.name?.[0];
        const display = name?.text ?? [name?.given?.join(' '), name?.family].filter(Boolean).join(' ');
        return { id: resource.id, display: `${display || '(no name)'}${resource.birthDate ? `, born ${resource.birthDate}` : ''}` };
      });
      const sessionToken = await sign(user, params);
      return void res.type('html').send(patientPickerPage({ action, searchAction: action, hidden: { ...hidden, session: sessionToken, step: 'pick' }, clientName, patients, query: q }));
    }
    if (patient) context.patient = patient;

    // 3. Consent, then the code.
    if (input.step === 'consent' && input.decision) {
      if (input.decision !== 'allow') return sendAuthorizeError(res, new RedirectError('access_denied', 'the user did not allow access'), params);
      const sessionUser: SessionUser = { id: user.id, sub: user.id, role: user.role, fhirUser: user.fhirUser, context };
      const request = new OAuthRequest({ method: 'POST', query: {}, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: { ...params } });
      const response = new OAuthResponse(res);
      try {
        await auth.oauth.authorize(request, response, { authenticateHandler: { handle: () => sessionUser } });
      } catch (error) {
        return sendAuthorizeError(res, new RedirectError((error as { name?: string }).name ?? 'server_error', (error as Error).message), params);
      }
      return void res.redirect(302, String(response.get('location')));
    }
    const sessionToken = await sign(user, params, patient);
    const scopes = String(params.scope ?? '').split(/\s+/).filter(Boolean);
    res.type('html').send(
      consentPage({
        action,
        hidden: { ...hidden, session: sessionToken, step: 'consent' },
        clientName,
        userDisplay: user.username,
        scopes: scopes.map((scope) => ({ scope, text: describeScope(scope) })),
        patientDisplay: patient ? `Patient/${patient}` : undefined,
      }),
    );
  };
  router.get('/authorize', handle);
  router.post('/authorize', handle);
  return router;
}

function sendAuthorizeError(res: Response, error: unknown, params: AuthorizeParameters): void {
  if (error instanceof PageError) {
    res.status(400).type('html').send(errorPage('This sign-in request cannot go on', error.message));
    return;
  }
  if (error instanceof RedirectError) {
    const target = new URL(params.redirect_uri as string);
    target.searchParams.set('error', error.code);
    target.searchParams.set('error_description', error.message);
    if (params.state) target.searchParams.set('state', params.state);
    res.redirect(302, target.toString());
    return;
  }
  throw error;
}

/** Binds a session to the request it was made for, so no parameter can change between steps. */
function requestHash(params: AuthorizeParameters): string {
  return sha256(PARAMETERS.map((name) => `${name}=${params[name] ?? ''}`).join('&'));
}
