// What a SMART app reads before anything else: `.well-known/smart-configuration` (SMART App
// Launch 2.x §discovery) at the FHIR base and at the server root, the OpenID Connect provider
// configuration, and the JWK Set of the keys tokens are signed with.
import express, { type Request, type Response } from 'express';
import type { AuthService } from './auth-service.js';
import { TOKEN_ALG } from './signing-keys.js';

export const SMART_CAPABILITIES = [
  'launch-ehr',
  'launch-standalone',
  'client-public',
  'client-confidential-symmetric',
  'client-confidential-asymmetric',
  'context-ehr-patient',
  'context-ehr-encounter',
  'context-standalone-patient',
  'permission-patient',
  'permission-user',
  'permission-v1',
  'permission-v2',
  'permission-offline',
  'permission-online',
  'sso-openid-connect',
  'authorize-post',
];

export function endpoints(auth: AuthService) {
  return {
    authorize: `${auth.authBaseUrl}/authorize`,
    token: `${auth.authBaseUrl}/token`,
    introspect: `${auth.authBaseUrl}/introspect`,
    revoke: `${auth.authBaseUrl}/revoke`,
    jwks: `${auth.authBaseUrl}/jwks.json`,
  };
}

/** What both discovery documents say alike: where the endpoints are and how clients talk to them. */
function sharedConfiguration(auth: AuthService) {
  const urls = endpoints(auth);
  return {
    issuer: auth.fhirBaseUrl,
    jwks_uri: urls.jwks,
    authorization_endpoint: urls.authorize,
    token_endpoint: urls.token,
    response_types_supported: ['code'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
    code_challenge_methods_supported: ['S256'],
  };
}

export function smartConfiguration(auth: AuthService) {
  const urls = endpoints(auth);
  return {
    ...sharedConfiguration(auth),
    introspection_endpoint: urls.introspect,
    revocation_endpoint: urls.revoke,
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    scopes_supported: ['openid', 'fhirUser', 'launch', 'launch/patient', 'launch/encounter', 'offline_access', 'online_access', 'patient/*.cruds', 'user/*.cruds', 'system/*.cruds', 'patient/*.read', 'patient/*.write', 'user/*.read', 'user/*.write', 'system/*.read', 'system/*.write'],
    capabilities: SMART_CAPABILITIES,
  };
}

function openidConfiguration(auth: AuthService) {
  return {
    ...sharedConfiguration(auth),
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [TOKEN_ALG],
    scopes_supported: ['openid', 'fhirUser'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nonce', 'fhirUser'],
  };
}

/** Mounted at the root and at the FHIR base: both answer the same documents. */
export function discoveryRouter(auth: AuthService): express.Router {
  const router = express.Router();
  const json = (body: () => unknown) => (_req: Request, res: Response) => {
    res.set('Cache-Control', 'public, max-age=300').json(body());
  };
  router.get('/.well-known/smart-configuration', json(() => smartConfiguration(auth)));
  router.get('/.well-known/openid-configuration', json(() => openidConfiguration(auth)));
  return router;
}

export function jwksHandler(auth: AuthService) {
  return (_req: Request, res: Response) => {
    res.set('Cache-Control', 'public, max-age=300').json(auth.keys.jwks);
  };
}
