// Everything a process needs to authorize requests, built once at start: signing keys, the token
// service, the OAuth server of `@node-oauth/oauth2-server` on Kiln's model, and the first
// administrator when the environment names one.
import OAuth2Server from '@node-oauth/oauth2-server';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Database } from '../store/database.js';
import { loginAttempts, type LoginAttempts } from './login-limits.js';
import { oauthModel } from './oauth-model.js';
import { loadKeyRing, type KeyRing } from './signing-keys.js';
import { REVOCATION_CHANNEL, TokenService } from './tokens.js';
import { createUser, hasAdmin, type LoginLimits } from './users.js';

export interface AuthService {
  db: Database;
  keys: KeyRing;
  tokens: TokenService;
  oauth: OAuth2Server;
  /** The FHIR base URL: token issuer and audience, and what `aud` must name at authorize. */
  fhirBaseUrl: string;
  /** Where the OAuth endpoints are (`…/auth`). */
  authBaseUrl: string;
  login: LoginLimits;
  /** Sign-in attempts per account and per address, shared by every process. */
  loginAttempts: LoginAttempts;
  rateLimitPerMinute: number;
  stop(): void;
}

export const AUTHORIZATION_CODE_SECONDS = 60;

/** The advisory lock under which a process checks for and creates the first administrator. */
const FIRST_ADMIN_LOCK = 4242003;

/**
 * Creates the administrator the environment names when there is none. Workers starting together
 * all try: under the lock the first creates it, and the others find it there and go on.
 */
async function createFirstAdministrator(db: Database, username: string, password: string, logger: Logger): Promise<void> {
  if (await hasAdmin(db)) return;
  const created = await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${FIRST_ADMIN_LOCK})`);
    if (await hasAdmin(tx)) return false;
    await createUser(tx, { username, password, role: 'admin' });
    return true;
  });
  if (created) logger.info({ username }, 'created the first administrator');
}

export async function createAuthService(db: Database, config: Config, fhirBaseUrl: string, logger: Logger): Promise<AuthService> {
  const keys = await loadKeyRing(db);
  const tokens = new TokenService(keys, fhirBaseUrl, config.KILN_ACCESS_TOKEN_SECONDS);
  const refresh = () => tokens.refreshRevocations(db).catch((error: unknown) => logger.warn({ err: error }, 'could not read revoked tokens'));
  // Listening before the first read, so that no revocation falls between the two.
  await db.listen(REVOCATION_CHANNEL, { message: (jti) => tokens.learnRevocation(jti), missed: () => void refresh() });
  await tokens.refreshRevocations(db);
  // A safety net under the notifications: the whole list again every KILN_REGISTRY_POLL_MS.
  const poll = setInterval(() => void refresh(), config.KILN_REGISTRY_POLL_MS);
  poll.unref();
  const model = oauthModel({
    db,
    tokens,
    refreshTokenSeconds: { offline: config.KILN_OFFLINE_REFRESH_DAYS * 86400, online: config.KILN_ONLINE_REFRESH_HOURS * 3600 },
  });
  const oauth = new OAuth2Server({
    model,
    accessTokenLifetime: config.KILN_ACCESS_TOKEN_SECONDS,
    refreshTokenLifetime: config.KILN_OFFLINE_REFRESH_DAYS * 86400,
    authorizationCodeLifetime: AUTHORIZATION_CODE_SECONDS,
    allowExtendedTokenAttributes: true,
    // The model decides who must authenticate how (server/auth/oauth-model.ts getClient).
    requireClientAuthentication: { authorization_code: false, refresh_token: false, client_credentials: false },
    alwaysIssueNewRefreshToken: true,
    allowEmptyState: false,
  });
  if (config.KILN_ADMIN_USERNAME && config.KILN_ADMIN_PASSWORD) {
    await createFirstAdministrator(db, config.KILN_ADMIN_USERNAME, config.KILN_ADMIN_PASSWORD, logger);
  }
  const origin = new URL(fhirBaseUrl);
  const authBaseUrl = `${fhirBaseUrl.slice(0, fhirBaseUrl.length - origin.pathname.replace(/\/$/, '').length)}/auth`;
  return {
    db,
    keys,
    tokens,
    oauth,
    fhirBaseUrl,
    authBaseUrl,
    login: { maxFailures: config.KILN_LOGIN_MAX_FAILURES, lockMinutes: config.KILN_LOGIN_LOCK_MINUTES },
    loginAttempts: await loginAttempts(db, { perAccount: config.KILN_LOGIN_ATTEMPTS_PER_MINUTE, perAddress: config.KILN_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE }),
    rateLimitPerMinute: config.KILN_RATE_LIMIT_PER_MINUTE,
    stop: () => clearInterval(poll),
  };
}
