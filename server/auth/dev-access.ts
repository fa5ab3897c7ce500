// A first authorised request in a minute, on a developer's own embedded database: `npx kiln admin
// token` prints a short-lived access token of a development administrator. There is no default
// password anywhere: the account is created once, with a random password that is never shown (no
// one signs in as it), and the token is signed with the server's own keys. Only whoever can write
// the data folder gets one (directly, or through the server's local socket in that folder), and
// that person already holds the whole database; a Kiln on Postgres offers no such command.
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../store/database.js';
import { hashPassword, newToken } from './secrets.js';
import type { KeyRing } from './signing-keys.js';
import { TokenService } from './tokens.js';

export const DEV_ADMIN_USERNAME = 'kiln-dev-admin';
/** The client the tokens name, so that audit records and client lists say where they came from. */
export const DEV_CLIENT_ID = 'kiln-dev-cli';
export const DEV_TOKEN_SCOPE = 'user/*.cruds';
export const DEV_TOKEN_SECONDS = 3600;

export class DevAccessRefused extends Error {}

export interface DevToken {
  accessToken: string;
  expiresIn: number;
  scope: string;
  username: string;
  /** Where the token is good: the FHIR base URL it names as its audience. */
  fhirBaseUrl: string;
}

/** The development administrator's id, creating the account and its client the first time. */
async function devAdministrator(q: Queryable): Promise<string> {
  const find = () => q.query<{ id: string; role: string; active: boolean }>('SELECT id, role, active FROM kiln_user WHERE username = $1', [DEV_ADMIN_USERNAME]);
  let found = (await find()).rows[0];
  if (!found) {
    await q.query(`INSERT INTO kiln_user (id, username, password_hash, role) VALUES ($1, $2, $3, 'admin') ON CONFLICT (username) DO NOTHING`, [
      randomUUID(),
      DEV_ADMIN_USERNAME,
      await hashPassword(newToken()),
    ]);
    found = (await find()).rows[0];
  }
  if (found.role !== 'admin' || !found.active) {
    throw new DevAccessRefused(`the account ${DEV_ADMIN_USERNAME} exists but is not an active administrator; no development token is issued for it`);
  }
  // A client with no secret and no keys: it can never obtain a token through OAuth, only be named.
  await q.query(
    `INSERT INTO kiln_client (client_id, name, kind, redirect_uris, scope, grant_types, jwks)
     VALUES ($1, 'Kiln command line (development tokens)', 'confidential-asymmetric', '{}', $2, '{client_credentials}', '{"keys": []}')
     ON CONFLICT (client_id) DO NOTHING`,
    [DEV_CLIENT_ID, DEV_TOKEN_SCOPE],
  );
  return found.id;
}

/** A token for the development administrator, signed with `keys`, for the FHIR base URL `issuer`. */
export async function issueDevToken(q: Queryable, keys: KeyRing, issuer: string): Promise<DevToken> {
  const sub = await devAdministrator(q);
  const tokens = new TokenService(keys, issuer, DEV_TOKEN_SECONDS);
  const { token } = await tokens.issueAccessToken({ sub, role: 'admin', fhirUser: null }, DEV_CLIENT_ID, DEV_TOKEN_SCOPE, {});
  return { accessToken: token, expiresIn: DEV_TOKEN_SECONDS, scope: DEV_TOKEN_SCOPE, username: DEV_ADMIN_USERNAME, fhirBaseUrl: issuer };
}
