// A backend service's token (SMART Backend Services): the benchmarks register a client with a key
// pair and sign a client assertion, as a real system client does, so that authorised load carries
// a token that Kiln verifies on every request.
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { createClient } from '../../server/auth/clients.js';

export async function backendToken(pool: pg.Pool, origin: string, name: string, scope: string): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair('RS384', { extractable: true });
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'bench', alg: 'RS384' }] };
  const { client } = await createClient(pool, { name, kind: 'confidential-asymmetric', jwks, grantTypes: ['client_credentials'], scope });
  // The assertion names the token endpoint as the server publishes it; the request goes to the address it listens on.
  const discovery = (await (await fetch(`${origin}/fhir/.well-known/smart-configuration`)).json()) as { token_endpoint: string };
  const tokenUrl = discovery.token_endpoint;
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS384', kid: 'bench' })
    .setIssuer(client.clientId)
    .setSubject(client.clientId)
    .setAudience(tokenUrl)
    .setJti(randomUUID())
    .setExpirationTime('4m')
    .sign(privateKey);
  const response = await fetch(`${origin}${new URL(tokenUrl).pathname}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`no token: ${response.status} ${JSON.stringify(body)}`);
  return body.access_token;
}
