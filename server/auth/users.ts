// Accounts of the people and devices that sign in: administrators, practitioners (paramedics
// included), patients and devices, each tied to the FHIR resource that is its `fhirUser`.
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../store/database.js';
import { hashPassword, verifyPassword } from './secrets.js';

export type Role = 'admin' | 'practitioner' | 'patient' | 'device';
export const ROLES: Role[] = ['admin', 'practitioner', 'patient', 'device'];

export interface User {
  id: string;
  username: string;
  role: Role;
  /** `Practitioner/1`, `Patient/2`, `Device/3`; an administrator may have none. */
  fhirUser: string | null;
  active: boolean;
}

/** The FHIR type a role's fhirUser must be. */
const FHIR_USER_TYPE: Record<Role, string[]> = { admin: ['Practitioner', 'Person'], practitioner: ['Practitioner'], patient: ['Patient'], device: ['Device'] };
export const MIN_PASSWORD_LENGTH = 12;

interface UserRow {
  id: string;
  username: string;
  role: Role;
  fhir_user: string | null;
  active: boolean;
  password_hash: string;
  failed_logins: number;
  locked_until: Date | null;
}

const toUser = (row: UserRow): User => ({ id: row.id, username: row.username, role: row.role, fhirUser: row.fhir_user, active: row.active });

export class UserInputError extends Error {}

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  fhirUser?: string | null;
}

export function checkNewUser(user: NewUser): void {
  if (!/^[A-Za-z0-9._@+-]{3,128}$/.test(user.username)) throw new UserInputError('username: 3 to 128 letters, digits and . _ @ + -');
  if (user.password.length < MIN_PASSWORD_LENGTH) throw new UserInputError(`password: at least ${MIN_PASSWORD_LENGTH} characters`);
  if (!ROLES.includes(user.role)) throw new UserInputError(`role: one of ${ROLES.join(', ')}`);
  const types = FHIR_USER_TYPE[user.role];
  if (user.fhirUser) {
    const match = /^([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(user.fhirUser);
    if (!match || !types.includes(match[1])) throw new UserInputError(`fhirUser: a ${user.role} is linked to ${types.join(' or ')}/id`);
  } else if (user.role !== 'admin') {
    throw new UserInputError(`fhirUser: a ${user.role} account must be linked to its ${types[0]} resource`);
  }
}

export async function createUser(q: Queryable, user: NewUser): Promise<User> {
  checkNewUser(user);
  const row = await q.query<UserRow>(
    `INSERT INTO kiln_user (id, username, password_hash, role, fhir_user) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (username) DO NOTHING RETURNING *`,
    [randomUUID(), user.username, await hashPassword(user.password), user.role, user.fhirUser ?? null],
  );
  if (!row.rows[0]) throw new UserInputError(`username "${user.username}" is taken`);
  return toUser(row.rows[0]);
}

export async function findUser(q: Queryable, id: string): Promise<User | undefined> {
  const row = await q.query<UserRow>('SELECT * FROM kiln_user WHERE id = $1', [id]);
  return row.rows[0] && toUser(row.rows[0]);
}

export async function listUsers(q: Queryable): Promise<User[]> {
  return (await q.query<UserRow>('SELECT * FROM kiln_user ORDER BY username')).rows.map(toUser);
}

export async function setUserActive(q: Queryable, id: string, active: boolean): Promise<User | undefined> {
  const row = await q.query<UserRow>('UPDATE kiln_user SET active = $2 WHERE id = $1 RETURNING *', [id, active]);
  return row.rows[0] && toUser(row.rows[0]);
}

export async function hasAdmin(q: Queryable): Promise<boolean> {
  return (await q.query("SELECT 1 FROM kiln_user WHERE role = 'admin' AND active LIMIT 1")).rows.length > 0;
}

export interface LoginLimits {
  maxFailures: number;
  lockMinutes: number;
}

export type LoginResult = { ok: true; user: User } | { ok: false; lockedNow: boolean };

/** A hash with the work factor of real ones, checked when no account has the username. */
const NO_ACCOUNT_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

// The count of wrong passwords moves in this one statement, so simultaneous attempts each add
// their own 1 (a read, a slow hash, then a write of `count + 1` would let them overwrite one
// another). Reaching maxFailures locks the account and starts the count again; during a lock
// nothing is counted, so more attempts do not make it longer. It names the account by username,
// so that an unknown username runs it too, matching nothing.
const COUNT_FAILURE = `UPDATE kiln_user
  SET failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
      locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(mins => $3) ELSE locked_until END
  WHERE username = $1 AND (locked_until IS NULL OR locked_until <= now())
  RETURNING failed_logins, locked_until`;

// A success counts only if the account is still active and unlocked when it is written: a lock
// that simultaneous wrong passwords set meanwhile wins.
const COUNT_SUCCESS = `UPDATE kiln_user SET failed_logins = 0, locked_until = NULL
  WHERE id = $1 AND active AND (locked_until IS NULL OR locked_until <= now())
  RETURNING *`;

/**
 * Checks a password. After `maxFailures` wrong ones the account is locked for `lockMinutes`.
 * An unknown username, an inactive or locked account and a wrong password all end the same way,
 * after the same hashing work and the same statements, so neither the answer nor its time tells
 * whether a username exists. `lockedNow` (for the log only) says this attempt locked the account.
 */
export async function authenticate(q: Queryable, username: string, password: string, limits: LoginLimits): Promise<LoginResult> {
  const row = (await q.query<UserRow & { locked: boolean }>('SELECT *, coalesce(locked_until > now(), false) AS locked FROM kiln_user WHERE username = $1', [username])).rows[0];
  const matches = await verifyPassword(password, row?.password_hash ?? NO_ACCOUNT_HASH);
  if (row && matches && row.active && !row.locked) {
    const signedIn = (await q.query<UserRow>(COUNT_SUCCESS, [row.id])).rows[0];
    if (signedIn) return { ok: true, user: toUser(signedIn) };
    return { ok: false, lockedNow: false };
  }
  const counted = (await q.query<{ failed_logins: number; locked_until: Date | null }>(COUNT_FAILURE, [username, limits.maxFailures, limits.lockMinutes])).rows[0];
  return { ok: false, lockedNow: counted !== undefined && counted.failed_logins === 0 && counted.locked_until !== null };
}
