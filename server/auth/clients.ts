// Registered client applications (SMART App Launch 2.x §client types): public apps (PKCE only),
// confidential apps with a secret (client_secret_basic), and confidential apps or backend services
// that sign a JWT with a key from their registered JWKS or JWKS URL (private_key_jwt).
import type { JWK } from 'jose';
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../store/database.js';
import { parseScopes } from './scopes.js';
import { newToken, sha256 } from './secrets.js';

export type ClientKind = 'public' | 'confidential-symmetric' | 'confidential-asymmetric';
export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';

export interface Client {
  clientId: string;
  name: string;
  kind: ClientKind;
  redirectUris: string[];
  /** The scopes the client may ask for (patterns: `patient/*.rs` allows `patient/Observation.rs`). */
  scope: string;
  grantTypes: GrantType[];
  jwks: { keys: JWK[] } | null;
  jwksUri: string | null;
  active: boolean;
}

interface ClientRow {
  client_id: string;
  name: string;
  kind: ClientKind;
  secret_hash: string | null;
  redirect_uris: string[];
  scope: string;
  grant_types: GrantType[];
  jwks: { keys: JWK[] } | string | null;
  jwks_uri: string | null;
  active: boolean;
}

const toClient = (row: ClientRow): Client & { secretHash: string | null } => ({
  clientId: row.client_id,
  name: row.name,
  kind: row.kind,
  redirectUris: row.redirect_uris,
  scope: row.scope,
  grantTypes: row.grant_types,
  jwks: typeof row.jwks === 'string' ? (JSON.parse(row.jwks) as { keys: JWK[] }) : row.jwks,
  jwksUri: row.jwks_uri,
  active: row.active,
  secretHash: row.secret_hash,
});

export class ClientInputError extends Error {}

export interface NewClient {
  name: string;
  kind: ClientKind;
  redirectUris?: string[];
  scope: string;
  grantTypes?: GrantType[];
  jwks?: { keys: JWK[] };
  jwksUri?: string;
}

function checkNewClient(client: NewClient): GrantType[] {
  if (!client.name?.trim()) throw new ClientInputError('name is required');
  const scopes = parseScopes(client.scope);
  if (scopes.unknown.length) throw new ClientInputError(`scope: not SMART scopes, or no such resource type: ${scopes.unknown.join(' ')}`);
  const grants = client.grantTypes ?? ['authorization_code', 'refresh_token'];
  const redirects = client.redirectUris ?? [];
  for (const uri of redirects) {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new ClientInputError(`redirectUris: "${uri}" is not an absolute URL`);
    }
    // Plain http only for the local machine (native and development apps).
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname))) {
      throw new ClientInputError(`redirectUris: "${uri}" must use https (http only on localhost)`);
    }
    if (url.hash) throw new ClientInputError(`redirectUris: "${uri}" may not have a fragment`);
  }
  if (grants.includes('authorization_code') && !redirects.length) throw new ClientInputError('redirectUris: an app that signs users in needs at least one');
  if (client.kind === 'public' && grants.includes('client_credentials')) throw new ClientInputError('grantTypes: a public client cannot use client_credentials');
  if (client.kind === 'confidential-asymmetric' && !client.jwks && !client.jwksUri) throw new ClientInputError('jwks or jwksUri: a client that signs its assertions needs its public keys registered');
  if (client.jwksUri && !client.jwksUri.startsWith('https://') && !/^http:\/\/(localhost|127\.0\.0\.1)[:/]/.test(client.jwksUri)) {
    throw new ClientInputError('jwksUri must use https');
  }
  return grants;
}

/** Registers a client; a symmetric client's secret is returned this once and only its hash kept. */
export async function createClient(q: Queryable, client: NewClient): Promise<{ client: Client; secret?: string }> {
  const grants = checkNewClient(client);
  const secret = client.kind === 'confidential-symmetric' ? newToken() : undefined;
  const row = await q.query<ClientRow>(
    `INSERT INTO kiln_client (client_id, name, kind, secret_hash, redirect_uris, scope, grant_types, jwks, jwks_uri)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
    [randomUUID(), client.name, client.kind, secret ? sha256(secret) : null, client.redirectUris ?? [], client.scope, grants, client.jwks ? JSON.stringify(client.jwks) : null, client.jwksUri ?? null],
  );
  const { secretHash: _hidden, ...created } = toClient(row.rows[0]);
  return { client: created, secret };
}

export async function findClient(q: Queryable, clientId: string): Promise<(Client & { secretHash: string | null }) | undefined> {
  const row = await q.query<ClientRow>('SELECT * FROM kiln_client WHERE client_id = $1', [clientId]);
  return row.rows[0] && toClient(row.rows[0]);
}

export async function listClients(q: Queryable): Promise<Client[]> {
  return (await q.query<ClientRow>('SELECT * FROM kiln_client ORDER BY name')).rows.map((row) => {
    const { secretHash: _hidden, ...client } = toClient(row);
    return client;
  });
}
