// RFC 7009 revocation reaches every Kiln process at once. On Postgres the revoking statement sends
// a notification (LISTEN/NOTIFY) that every process on the database hears: here two Kiln servers
// share one database and poll the revocation list only every ten minutes, so only the notification
// can carry the news. On the embedded database there is one process, which must refuse the token
// right after revoking it.
import pg from 'pg';
import request from 'supertest';
import type { TestServer } from '../support/test-server.js';
import { newClient, newUser, signIn, startAuthServer } from './support.js';

type AuthServer = TestServer & { origin: string };
const NO_POLLING = { KILN_REGISTRY_POLL_MS: '600000' };
const LISTENER = `kiln listener ${process.pid}`;

async function tokenFor(kiln: AuthServer) {
  const user = await newUser(kiln, 'practitioner', 'Practitioner/revoked-1');
  const { client } = await newClient(kiln, { scope: 'user/Patient.rs' });
  const tokens = await signIn(kiln, { clientId: client.clientId, scope: 'user/Patient.rs', username: user.username });
  return { clientId: client.clientId, token: tokens.access_token };
}

async function revoke(kiln: AuthServer, clientId: string, token: string): Promise<void> {
  const response = await fetch(`${kiln.origin}/auth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, client_id: clientId }) });
  expect(response.status).toBe(200);
}

const statusWith = async (kiln: AuthServer, token: string) => (await request(kiln.server).get('/fhir/Patient').set('Authorization', `Bearer ${token}`)).status;

/** Asks until `kiln` refuses the token; generous, since only whether the news arrives is checked. */
async function refusedWithin(kiln: AuthServer, token: string, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let status = await statusWith(kiln, token);
  while (status !== 401 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    status = await statusWith(kiln, token);
  }
  return status;
}

async function onDatabase<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const listenerConnections = () =>
  onDatabase(async (client) => Number((await client.query('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [LISTENER])).rows[0].n));

if (process.env.DATABASE_URL) {
  describe('on Postgres: two Kiln servers on one database, neither polling the revocation list', () => {
    let one: AuthServer;
    let other: AuthServer;
    // One Kiln as its users see it: both servers answer for the same base URL, so each accepts the other's tokens.
    const SAME_URL = { ...NO_POLLING, KILN_BASE_URL: 'http://kiln.example.org/fhir' };
    beforeAll(async () => {
      one = await startAuthServer(SAME_URL);
      other = await startAuthServer(SAME_URL);
    });
    afterAll(async () => {
      await one?.stop();
      await other?.stop();
    });

    it('a token revoked on one server is refused by the other, which had accepted it before', async () => {
      const { clientId, token } = await tokenFor(one);
      expect(await statusWith(other, token)).toBe(200);
      await revoke(one, clientId, token);
      expect(await statusWith(one, token)).toBe(401);
      expect(await refusedWithin(other, token, 10_000)).toBe(401);
    });

    it('after its listening connection is cut, a server re-reads the revocations it may have missed, and hears new ones again', async () => {
      const missed = await tokenFor(one);
      const later = await tokenFor(one);
      expect(await statusWith(other, missed.token)).toBe(200);
      expect(await statusWith(other, later.token)).toBe(200);
      const cut = await onDatabase(async (client) => (await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [LISTENER])).rowCount);
      expect(cut).toBe(2);
      // Revoked while the other server is not listening: only its re-read on reconnecting finds it.
      await revoke(one, missed.clientId, missed.token);
      expect(await refusedWithin(other, missed.token, 10_000)).toBe(401);
      // Listening again: a new revocation arrives as a notification.
      await revoke(one, later.clientId, later.token);
      expect(await refusedWithin(other, later.token, 10_000)).toBe(401);
    });

    it('closing the database closes its listening connection', async () => {
      const third = await startAuthServer(SAME_URL);
      const before = await listenerConnections();
      await third.stop();
      const deadline = Date.now() + 5000;
      let after = await listenerConnections();
      while (after !== before - 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await listenerConnections();
      }
      expect(after).toBe(before - 1);
    });
  });
} else {
  describe('on the embedded database: one process', () => {
    let kiln: AuthServer;
    beforeAll(async () => {
      kiln = await startAuthServer(NO_POLLING);
    });
    afterAll(() => kiln.stop());

    it('the server that revoked a token refuses it right after the revocation', async () => {
      const { clientId, token } = await tokenFor(kiln);
      expect(await statusWith(kiln, token)).toBe(200);
      await revoke(kiln, clientId, token);
      expect(await statusWith(kiln, token)).toBe(401);
    });
  });
}
