// Sign-in attempts have limits of their own, far below the request limits: per account and per
// address, each minute (KILN_LOGIN_ATTEMPTS_PER_MINUTE, KILN_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE),
// counted in Postgres when there is one, so that every process sees the same count. An attempt
// over a limit answers 429 with Retry-After and its password is not checked. Each scenario signs
// in from loopback addresses of its own, so that no other test's attempts are in its counts.
import { uniqueId, type TestServer } from '../support/test-server.js';
import { formFields, newClient, newUser, ownLoopbackAddress, PASSWORD, postSignIn, signInForm, startAuthServer } from './support.js';

const PER_ACCOUNT = 3;
const PER_ADDRESS = 6;
const WRONG = 'not the password at all';
let kiln: TestServer & { origin: string };
let form: Record<string, string>;

beforeAll(async () => {
  kiln = await startAuthServer({ KILN_LOGIN_ATTEMPTS_PER_MINUTE: String(PER_ACCOUNT), KILN_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE: String(PER_ADDRESS), KILN_LOGIN_MAX_FAILURES: '50' });
  const { client } = await newClient(kiln, { scope: 'user/*.rs' });
  form = await signInForm(kiln, client.clientId);
});
afterAll(() => kiln.stop());

const failedLogins = async (username: string) => (await kiln.db.query<{ failed_logins: number }>('SELECT failed_logins FROM kiln_user WHERE username = $1', [username])).rows[0].failed_logins;

function expectRefusedForNow(answer: { status: number; retryAfter: string | undefined; html: string }) {
  expect(answer.status).toBe(429);
  expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(answer.retryAfter)).toBeLessThanOrEqual(60);
  // The sign-in page again, saying why, and nothing further.
  expect(formFields(answer.html).step).toBe('login');
  expect(answer.html).toContain('role="alert"');
}

it('refuses an account past its attempts per minute with 429 and Retry-After, even with the right password, and checks no password', async () => {
  const user = await newUser(kiln, 'practitioner', 'Practitioner/limited-1');
  const from = ownLoopbackAddress();
  for (let i = 0; i < PER_ACCOUNT; i++) expect((await postSignIn(kiln, form, user.username, WRONG, from)).status).toBe(401);
  expectRefusedForNow(await postSignIn(kiln, form, user.username, PASSWORD, from));
  // From elsewhere too: the count is the account's.
  const elsewhere = ownLoopbackAddress();
  for (let i = 0; i < PER_ADDRESS - 1; i++) expectRefusedForNow(await postSignIn(kiln, form, user.username, WRONG, elsewhere));
  expect(await failedLogins(user.username)).toBe(PER_ACCOUNT);
  // Another account is not held back by this one.
  const other = await newUser(kiln, 'practitioner', 'Practitioner/limited-2');
  expect(formFields((await postSignIn(kiln, form, other.username, PASSWORD, from)).html).step).toBe('consent');
});

it('refuses an address past its attempts per minute with 429, whatever the account, and lets other addresses sign in', async () => {
  const user = await newUser(kiln, 'practitioner', 'Practitioner/limited-3');
  const from = ownLoopbackAddress();
  for (let i = 0; i < PER_ADDRESS; i++) expect((await postSignIn(kiln, form, uniqueId('nobody'), WRONG, from)).status).toBe(401);
  expectRefusedForNow(await postSignIn(kiln, form, user.username, PASSWORD, from));
  expect(formFields((await postSignIn(kiln, form, user.username, PASSWORD, ownLoopbackAddress())).html).step).toBe('consent');
});

it('counts unknown usernames like known ones, so the limit tells nothing about which exist', async () => {
  const from = ownLoopbackAddress();
  const unknown = uniqueId('nobody');
  for (let i = 0; i < PER_ACCOUNT; i++) expect((await postSignIn(kiln, form, unknown, WRONG, from)).status).toBe(401);
  expectRefusedForNow(await postSignIn(kiln, form, unknown, WRONG, from));
});
