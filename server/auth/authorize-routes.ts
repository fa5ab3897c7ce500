// The authorization endpoint (SMART App Launch 2.x, authorization code flow with PKCE): checks the
// request, signs the user in, lets a practitioner pick the patient for a standalone launch, asks
// for consent, then hands over to `@node-oauth/oauth2-server` to mint the code. Plain HTML forms,
// by GET or POST; each step carries the request and a short-lived signed session forward.
import OAuth2Server from '@node-oauth/oauth2-server';
import express, { type Request, type Response } from 'express';
import { jwtVerify, SignJWT } from 'jose';
import type { FhirContext } from '../fhir/context.js';
import { FhirError } from '../fhir/errors.js';
import { read } from '../fhir/interactions/read.js';
import { search } from '../fhir/interactions/search.js';
import type { AuthService } from './auth-service.js';
import { findClient, type Client } from './clients.js';
import type { SessionUser } from './oauth-model.js';
import { consentPage, errorPage, loginPage, loginRefusedMessage, patientPickerPage, type ConsentRecords, type HiddenFields, type MissingParameter, type PatientSummary } from './pages.js';
import { grantScopes, parseScopes, type ParsedScopes } from './scopes.js';
import { sha256 } from './secrets.js';
import { TOKEN_ALG } from './signing-keys.js';
import type { LaunchContext } from './tokens.js';
import { authenticate, findUser, type User } from './users.js';

const { Request: OAuthRequest, Response: OAuthResponse } = OAuth2Server;
const PARAMETERS = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'aud', 'code_challenge', 'code_challenge_method', 'launch', 'nonce'] as const;
type AuthorizeParameters = Partial<Record<(typeof PARAMETERS)[number], string>>;
const SESSION_SECONDS = 600;
const CREDENTIALS = ['username', 'password'];
/** Patients on one page of the patient picker. */
const PICKER_PAGE_SIZE = 20;

/** The parameters every authorization request needs, and what each is for, as its error page says. */
const REQUIRED: readonly MissingParameter[] = [
  { name: 'response_type', purpose: 'what the app asks for, always code' },
  { name: 'client_id', purpose: 'which app is asking' },
  { name: 'redirect_uri', purpose: 'where to send you back to the app' },
  { name: 'scope', purpose: 'what the app asks to do' },
  { name: 'state', purpose: 'the app’s own reference to this sign-in' },
  { name: 'aud', purpose: 'the FHIR server the app wants to use' },
  { name: 'code_challenge', purpose: 'the app’s proof key (PKCE)' },
  { name: 'code_challenge_method', purpose: 'how the proof key was made, always S256' },
];

/** Refused before the redirect URI is trusted: shown as a page, never redirected. */
class PageError extends Error {
  constructor(
    message: string,
    readonly missing: readonly MissingParameter[] = [],
  ) {
    super(message);
  }
}
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
  const action = `${auth.authBaseUrl}/authorize`;
  // One answer for an unknown username, a wrong password and a locked account, so that none tells
  // which it was; it names the lock's length, which is the same for every account.
  const loginRefused = loginRefusedMessage(auth.login.lockMinutes);

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
    // Without these two there is nowhere to send an error: the page names everything missing.
    if (!params.client_id || !params.redirect_uri) {
      const missing = REQUIRED.filter(({ name }) => !params[name as keyof AuthorizeParameters]);
      throw new PageError('This page is opened by an app, with parameters that say which app asks and for what; go back to the app and sign in from there. This request is missing:', missing);
    }
    const client = await findClient(auth.db, params.client_id);
    if (!client?.active) throw new PageError('The application is not registered with this server (unknown client_id).');
    if (!client.grantTypes.includes('authorization_code')) throw new PageError('This application is not allowed to sign users in.');
    const redirectUri = params.redirect_uri;
    if (!client.redirectUris.includes(redirectUri)) throw new PageError('The redirect_uri is not one registered for this application.');
    if (params.response_type !== 'code') throw new RedirectError('unsupported_response_type', 'response_type must be code');
    if (!params.state) throw new RedirectError('invalid_request', 'state is required');
    if (!params.code_challenge || params.code_challenge_method !== 'S256') throw new RedirectError('invalid_request', 'PKCE is required: code_challenge with code_challenge_method S256');
    if (!/^[A-Za-z0-9_-]{43}$/.test(params.code_challenge)) throw new RedirectError('invalid_request', 'code_challenge must be a base64url SHA-256 hash');
    if (!params.aud || params.aud.replace(/\/+$/, '') !== auth.fhirBaseUrl) throw new RedirectError('invalid_request', `aud must be this FHIR server: ${auth.fhirBaseUrl}`);
    const scopes = parseScopes(params.scope);
    if (scopes.unknown.length) throw new RedirectError('invalid_scope', `unknown scopes (not SMART scopes, or no such resource type): ${scopes.unknown.join(' ')}`);
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
    // Credentials in an address end up in browser history, proxy and server logs: they are taken
    // from a POST body only, and one sent in the URL is refused before anything is checked.
    if (CREDENTIALS.some((name) => Object.hasOwn(req.query, name))) {
      return sendAuthorizeError(res, new PageError('A username or password may not be sent in the address (URL) of the sign-in page; sign in with the form.'), {});
    }
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
      const username = String(input.username ?? '');
      const retryAfter = await auth.loginAttempts.count(username, req.ip ?? '');
      if (retryAfter !== undefined) {
        const error = `Too many sign-in attempts; try again in ${retryAfter} seconds.`;
        return void res.status(429).set('Retry-After', String(retryAfter)).type('html').send(loginPage({ action, hidden: { ...hidden, step: 'login' }, clientName, username, error }));
      }
      const result = await authenticate(auth.db, username, String(input.password ?? ''), auth.login);
      if (!result.ok) {
        if (result.lockedNow) req.log.warn({ username }, 'account locked after too many wrong passwords');
        return void res.status(401).type('html').send(loginPage({ action, hidden: { ...hidden, step: 'login' }, clientName, username, error: loginRefused }));
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
      patient = (await readPatient(ctx, String(input.patient)))?.id;
    }
    if (checked.scopes.launchPatient && !patient) {
      const q = String(input.q ?? '').trim();
      const text = (name: string) => (typeof input[name] === 'string' ? input[name] : undefined);
      const found = await findPatients(ctx, q, text('page'), text('first'));
      const sessionToken = await sign(user, params);
      const hiddenFields = { ...hidden, session: sessionToken, step: 'pick' };
      return void res.type('html').send(patientPickerPage({ action, searchAction: action, hidden: hiddenFields, clientName, query: q, pageSize: PICKER_PAGE_SIZE, ...found }));
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
    // A patient is told of their own records; anyone else of the patient's, by name.
    let records: ConsentRecords = { kind: 'none' };
    if (patient && patient === ownPatient) records = { kind: 'own' };
    else if (patient) records = { kind: 'patient', patient: (await readPatient(ctx, patient)) ?? { id: patient } };
    res.type('html').send(
      consentPage({
        action,
        hidden: { ...hidden, session: sessionToken, step: 'consent' },
        clientName,
        userDisplay: user.username,
        scopes: String(params.scope ?? '').split(/\s+/).filter(Boolean),
        records,
      }),
    );
  };
  router.get('/authorize', handle);
  // Parsed here only: the token, revocation and introspection endpoints read their own bodies.
  router.post('/authorize', express.urlencoded({ extended: false, limit: '64kb' }), handle);
  return router;
}

function sendAuthorizeError(res: Response, error: unknown, params: AuthorizeParameters): void {
  if (error instanceof PageError) {
    res.status(400).type('html').send(errorPage('This sign-in request cannot go on', error.message, error.missing));
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

/** The Patient `id`, read through the FHIR layer with Kiln's own context; undefined when there is none (or it was deleted). */
async function readPatient(ctx: FhirContext, id: string): Promise<PatientSummary | undefined> {
  try {
    return JSON.parse((await read(ctx, 'Patient', id)).content) as PatientSummary;
  } catch (error) {
    if (error instanceof FhirError && (error.status === 404 || error.status === 410)) return undefined;
    throw error;
  }
}

interface PatientBundle {
  total?: number;
  link?: { relation: string; url: string }[];
  entry?: { resource: PatientSummary }[];
}

/**
 * One page of the patients whose names match `q`, sorted by family then given name (the order of
 * the names the picker shows), with the count of all matches and the cursors of the pages around.
 * `cursor` and `first` come from the picker's own page links; a cursor that is not one of this
 * search (edited, or from another search) starts again at the first page.
 */
async function findPatients(ctx: FhirContext, q: string, cursor: string | undefined, first: string | undefined) {
  const params: [string, string][] = [...(q ? [['name', q] as [string, string]] : []), ['_count', String(PICKER_PAGE_SIZE)], ['_sort', 'family,given'], ['_total', 'accurate']];
  let bundle: PatientBundle;
  try {
    bundle = JSON.parse(await search(ctx, 'Patient', cursor ? [...params, ['_page', cursor]] : params, { lenient: false })) as PatientBundle;
  } catch (error) {
    if (!cursor || !(error instanceof FhirError) || error.status !== 400) throw error;
    return findPatients(ctx, q, undefined, undefined);
  }
  const cursorOf = (relation: string) => {
    const url = bundle.link?.find((link) => link.relation === relation)?.url;
    return (url && new URL(url).searchParams.get('_page')) || undefined;
  };
  const total = bundle.total ?? 0;
  // `first` only numbers the page (the cursor decides which patients are on it): a count within the total, else 1.
  const position = cursor && first && /^[1-9][0-9]{0,8}$/.test(first) ? Number(first) : 1;
  return { patients: (bundle.entry ?? []).map(({ resource }) => resource), total, first: position <= total ? position : 1, previous: cursorOf('previous'), next: cursorOf('next') };
}
