// Every FHIR request but the public documents carries a bearer token (RFC 6750). A missing, expired,
// malformed, wrongly signed, wrong-audience or revoked token answers 401 with WWW-Authenticate;
// what a valid token allows is then checked per interaction (server/fhir/access-checks.ts).
import type { NextFunction, Request, Response } from 'express';
import { FhirError, issue } from '../fhir/errors.js';
import type { Access } from '../fhir/context.js';
import type { AuthService } from './auth-service.js';
import { parseScopes } from './scopes.js';
import { InvalidToken } from './tokens.js';

/** Paths anyone may read: the CapabilityStatement and the discovery documents. */
const PUBLIC = [/^\/metadata$/, /^\/\.well-known\//];

/** Parsed scope strings: a client sends the same token, with the same scopes, request after request. */
const parsedScopes = new Map<string, ReturnType<typeof parseScopes>>();
function scopesOf(text: string) {
  let found = parsedScopes.get(text);
  if (!found) {
    if (parsedScopes.size >= 1000) parsedScopes.clear();
    parsedScopes.set(text, (found = parseScopes(text)));
  }
  return found;
}

function unauthorized(description: string, error = 'invalid_token'): FhirError {
  const header = error ? `Bearer realm="Kiln", error="${error}", error_description="${description.replace(/"/g, "'")}"` : 'Bearer realm="Kiln"';
  return new FhirError(401, [issue('login', description)], { 'WWW-Authenticate': header });
}

export function bearerAuthorization(auth: AuthService) {
  return async (req: Request, res: Response, next: NextFunction) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && PUBLIC.some((path) => path.test(req.path))) return next();
    const header = req.get('authorization');
    if (!header) return next(unauthorized('This server needs a bearer token (SMART on FHIR); see /.well-known/smart-configuration', ''));
    const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(header);
    if (!match) return next(unauthorized('The Authorization header is not a bearer token', 'invalid_request'));
    try {
      const claims = await auth.tokens.verifyAccessToken(match[1]);
      const scopes = scopesOf(claims.scope);
      const ownPatient = claims.role === 'patient' ? claims.fhirUser?.split('/')[1] : undefined;
      // patient/ scopes confine the token to its launch patient; a patient user is always confined to themself.
      const patientScopes = scopes.resources.some((s) => s.context === 'patient');
      const patient = ownPatient ?? (patientScopes ? claims.context.patient : undefined);
      if (patientScopes && !patient) return next(unauthorized('The token has patient/ scopes but no patient in its context'));
      const access: Access = {
        scopes: scopes.resources,
        role: claims.role,
        fhirUser: claims.fhirUser ?? null,
        patient,
        clientId: claims.clientId,
        subject: claims.sub,
        address: req.ip,
      };
      res.locals.access = access;
      next();
    } catch (error) {
      if (error instanceof InvalidToken) return next(unauthorized(error.message));
      next(error);
    }
  };
}
