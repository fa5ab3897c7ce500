// The gate in front of the FHIR and admin APIs: the caller's address is counted against its
// rate limit, then every request but the public documents must carry a bearer token (RFC 6750),
// then the token's client application is counted against its limit. A missing, expired,
// malformed, wrongly signed, wrong-audience or revoked token answers 401 with WWW-Authenticate;
// what a valid token allows is checked per interaction (server/fhir/access-checks.ts). This runs
// on every FHIR request, so a token seen before is not verified again: its claims, and what they
// allow, are kept.
import type { NextFunction, Request, Response } from 'express';
import { FhirError, issue } from '../fhir/errors.js';
import type { Access } from '../fhir/context.js';
import type { AuthService } from './auth-service.js';
import type { RateLimits } from './rate-limits.js';
import { parseScopes } from './scopes.js';
import { InvalidToken, type AccessClaims } from './tokens.js';

/** The FHIR paths anyone may read: the CapabilityStatement and the discovery documents. */
export const PUBLIC_FHIR_PATHS = [/^\/metadata$/, /^\/\.well-known\//];

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/;

/** What a token allows, worked out once per verified token: all of an Access but the caller's address. */
type TokenAccess = Omit<Access, 'address'>;
const accessOfClaims = new WeakMap<AccessClaims, TokenAccess | InvalidToken>();

function unauthorized(description: string, error = 'invalid_token'): FhirError {
  const header = error ? `Bearer realm="Kiln", error="${error}", error_description="${description.replace(/"/g, "'")}"` : 'Bearer realm="Kiln"';
  return new FhirError(401, [issue('login', description)], { 'WWW-Authenticate': header });
}

function tokenAccess(claims: AccessClaims): TokenAccess {
  let found = accessOfClaims.get(claims);
  if (!found) {
    const scopes = parseScopes(claims.scope);
    const ownPatient = claims.role === 'patient' ? claims.fhirUser?.split('/')[1] : undefined;
    // patient/ scopes confine the token to its launch patient; a patient user is always confined to themself.
    const patientScopes = scopes.resources.some((s) => s.context === 'patient');
    const patient = ownPatient ?? (patientScopes ? claims.context.patient : undefined);
    found =
      patientScopes && !patient
        ? new InvalidToken('The token has patient/ scopes but no patient in its context')
        : { scopes: scopes.resources, role: claims.role, fhirUser: claims.fhirUser ?? null, patient, clientId: claims.clientId, subject: claims.sub };
    accessOfClaims.set(claims, found);
  }
  if (found instanceof InvalidToken) throw found;
  return found;
}

/**
 * What an access token allows, for channels that carry a token without an HTTP request of the FHIR
 * API (websocket binding); throws InvalidToken when it is not valid.
 */
export async function accessOfToken(auth: AuthService, token: string): Promise<TokenAccess> {
  return tokenAccess(auth.tokens.knownAccessToken(token) ?? (await auth.tokens.verifyAccessToken(token)));
}

/** The access of the request's bearer token; 401 (as a FhirError) when it has none that is valid. */
async function accessOf(auth: AuthService, req: Request): Promise<TokenAccess> {
  const header = req.headers.authorization;
  if (!header) throw unauthorized('This server needs a bearer token (SMART on FHIR); see /.well-known/smart-configuration', '');
  const match = BEARER.exec(header);
  if (!match) throw unauthorized('The Authorization header is not a bearer token', 'invalid_request');
  try {
    return tokenAccess(auth.tokens.knownAccessToken(match[1]) ?? (await auth.tokens.verifyAccessToken(match[1])));
  } catch (error) {
    throw error instanceof InvalidToken ? unauthorized(error.message) : error;
  }
}

/** The gate; `publicPaths` (GET and HEAD only) need no token. */
export function bearerGate(auth: AuthService, limits: RateLimits, publicPaths: RegExp[] = []) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const address = req.ip ?? '';
    await limits.address(address);
    if ((req.method === 'GET' || req.method === 'HEAD') && publicPaths.some((path) => path.test(req.path))) return next();
    const access = await accessOf(auth, req);
    await limits.client(access.clientId);
    res.locals.access = { ...access, address } satisfies Access;
    next();
  };
}
