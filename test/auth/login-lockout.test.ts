// Brute-force protection of the sign-in page: wrong passwords are counted in one SQL statement, so
// a burst of simultaneous attempts locks the account as surely as attempts one after another; and
// no answer tells whether a username exists: an unknown username, a wrong password and a locked
// account get the same page, the same status, and the same hashing work and SQL statements.
import type { Queryable } from '../../server/store/database.js';
import { authenticate } from '../../server/auth/users.js';
import { uniqueId, type TestServer } from '../support/test-server.js';
import { formFields, newClient, newUser, PASSWORD, postSignIn, signInForm, startAuthServer } from './support.js';

const MAX_FAILURES = 5;
let kiln: TestServer & { origin: string };
let clientId: string;

beforeAll(async () => {
  // Attempts per minute unlimited, so that the lock, not the limit of attempts, is what refuses.
  kiln = await startAuthServer({ KILN_LOGIN_MAX_FAILURES: String(MAX_FAILURES), KILN_LOGIN_LOCK_MINUTES: '15', KILN_LOGIN_ATTEMPTS_PER_MINUTE: '0', KILN_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE: '0' });
  ({ client: { clientId } } = await newClient(kiln, { scope: 'user/*.rs' }));
});
afterAll(() => kiln.stop());

const loginForm = () => signInForm(kiln, clientId);
const login = (form: Record<string, string>, username: string, password: string) => postSignIn(kiln, form, username, password);

it('locks the account after 40 simultaneous wrong passwords: the right one is refused afterwards', async () => {
  const user = await newUser(kiln, 'practitioner', 'Practitioner/lockout-1');
  const form = await loginForm();
  const attempts = await Promise.all(Array.from({ length: 40 }, () => login(form, user.username, 'not the password at all')));
  expect(new Set(attempts.map((a) => a.status))).toEqual(new Set([401]));
  const right = await login(form, user.username, PASSWORD);
  expect(right.status).toBe(401);
  expect(formFields(right.html).step).toBe('login');
  expect(right.html).toContain('role="alert"');
});

it('answers an unknown username, a wrong password and a locked account with the same status and page', async () => {
  const form = await loginForm();
  const known = await newUser(kiln, 'practitioner', 'Practitioner/lockout-2');
  const locked = await newUser(kiln, 'practitioner', 'Practitioner/lockout-3');
  for (let i = 0; i < MAX_FAILURES; i++) await login(form, locked.username, 'not the password at all');
  const unknownName = uniqueId('practitioner');
  const answers = [
    ['unknown username', unknownName, await login(form, unknownName, 'not the password at all')],
    ['wrong password', known.username, await login(form, known.username, 'not the password at all')],
    ['locked account, right password', locked.username, await login(form, locked.username, PASSWORD)],
  ] as const;
  const seen = answers.map(([what, username, answer]) => [what, answer.status, answer.html.split(username).join('USERNAME')]);
  expect(seen.map(([, status]) => status)).toEqual([401, 401, 401]);
  expect(seen[1][2]).toBe(seen[0][2]);
  expect(seen[2][2]).toBe(seen[0][2]);
  expect(seen[0][2]).toContain('try again later');
});

it('runs the same SQL statements for an unknown username, a wrong password and a locked account', async () => {
  const limits = { maxFailures: MAX_FAILURES, lockMinutes: 15 };
  const statementsOf = async (username: string, password: string) => {
    const statements: string[] = [];
    const recording: Queryable = {
      query: (sql, params) => {
        statements.push(sql.replace(/\s+/g, ' ').trim());
        return kiln.db.query(sql, params);
      },
    };
    const result = await authenticate(recording, username, password, limits);
    return { ok: result.ok, statements };
  };
  const known = await newUser(kiln, 'practitioner', 'Practitioner/lockout-4');
  const locked = await newUser(kiln, 'practitioner', 'Practitioner/lockout-5');
  for (let i = 0; i < MAX_FAILURES; i++) await authenticate(kiln.db, locked.username, 'not the password at all', limits);
  const unknown = await statementsOf(uniqueId('practitioner'), 'not the password at all');
  const wrong = await statementsOf(known.username, 'not the password at all');
  const lockedOut = await statementsOf(locked.username, PASSWORD);
  expect([unknown.ok, wrong.ok, lockedOut.ok]).toEqual([false, false, false]);
  expect(unknown.statements.length).toBeGreaterThan(0);
  expect(wrong.statements).toEqual(unknown.statements);
  expect(lockedOut.statements).toEqual(unknown.statements);
  expect((await statementsOf(known.username, PASSWORD)).ok).toBe(true);
});
