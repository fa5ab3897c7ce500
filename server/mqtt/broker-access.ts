// Who may use Kiln's embedded MQTT broker, and for what. A client signs in with a Kiln account's
// user name and password, or with any user name and a valid access token as the password; either
// way it becomes an Access, as a FHIR request's bearer token does. It may subscribe to a topic
// only when at least one Subscription it may read (the FHIR read, with its scopes and patient
// confinement) sends there; wildcard filters, which would see every subscription's notifications,
// are for administrators. Publishing is for administrators only for now: devices publishing their
// readings will get their own rule.
import type { AuthService } from '../auth/auth-service.js';
import { accessOfToken } from '../auth/bearer.js';
import { parseScopes } from '../auth/scopes.js';
import { InvalidToken } from '../auth/tokens.js';
import { authenticate as checkPassword, type User } from '../auth/users.js';
import { assertMayRead } from '../fhir/access-checks.js';
import type { Access, FhirContext } from '../fhir/context.js';
import { FhirError } from '../fhir/errors.js';
import { read } from '../fhir/interactions/read.js';
import type { Logger } from '../logger.js';
import { hasWildcard } from './topics.js';

/** The client id a password sign-in on the broker is recorded under (audit trail, logs). */
export const MQTT_CLIENT_ID = 'kiln-mqtt';

/** What a password sign-in allows on the broker: reading Subscriptions, which is all subscribing needs. */
const PASSWORD_SCOPES = parseScopes('user/Subscription.rs').resources;

/** A compact JWS (header.payload.signature): such a password is taken as an access token, never as an account's password. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface BrokerAccessOptions {
  /** Kiln's own context (no caller): Subscriptions are read through it with each client's access. */
  ctx: FhirContext;
  auth: AuthService;
  /** Ids of the Subscriptions whose MQTT channel publishes to a topic (server/store/mqtt-topic-store.ts). */
  subscriptionsOnTopic(topic: string): Promise<string[]>;
  logger: Logger;
}

export interface BrokerAccess {
  authenticate(username: string, password: Buffer | undefined, address?: string): Promise<Access | undefined>;
  maySubscribe(principal: unknown, topic: string): Promise<boolean>;
  mayPublish(principal: unknown, topic: string): Promise<boolean>;
}

function passwordAccess(user: User, address: string | undefined): Access {
  return {
    scopes: PASSWORD_SCOPES,
    role: user.role,
    fhirUser: user.fhirUser,
    // A patient reaches only their own record, as with any token of theirs.
    patient: user.role === 'patient' ? user.fhirUser?.split('/')[1] : undefined,
    clientId: MQTT_CLIENT_ID,
    subject: user.id,
    address,
  };
}

/** An administrator whose access reaches every Subscription: only they see the topics of all. */
function seesAllSubscriptions(ctx: FhirContext, access: Access): boolean {
  if (access.role !== 'admin' || access.patient !== undefined) return false;
  try {
    return assertMayRead({ ...ctx, access }, 'Subscription') !== undefined;
  } catch (error) {
    if (error instanceof FhirError) return false;
    throw error;
  }
}

export function brokerAccess(options: BrokerAccessOptions): BrokerAccess {
  const { ctx, auth, logger } = options;

  async function mayRead(access: Access, subscriptionId: string): Promise<boolean> {
    try {
      await read({ ...ctx, access }, 'Subscription', subscriptionId);
      return true;
    } catch (error) {
      // Out of reach, unknown and deleted all mean no; anything else is Kiln failing.
      if (error instanceof FhirError && [403, 404, 410].includes(error.status)) return false;
      throw error;
    }
  }

  return {
    async authenticate(username, password, address) {
      const text = password?.toString('utf8') ?? '';
      if (!text) return undefined;
      if (TOKEN_SHAPE.test(text)) {
        // No password check for a token, so that a device retrying with an expired token does not lock an account.
        try {
          return { ...(await accessOfToken(auth, text)), address };
        } catch (error) {
          if (error instanceof InvalidToken) return undefined;
          throw error;
        }
      }
      // The sign-in limits of the login page apply: MQTT is no side door around them.
      if ((await auth.loginAttempts.count(username, address ?? '')) !== undefined) return undefined;
      const result = await checkPassword(auth.db, username, text, auth.login);
      if (!result.ok) {
        if (result.lockedNow) logger.warn({ username }, 'account locked after too many wrong passwords (MQTT)');
        return undefined;
      }
      return passwordAccess(result.user, address);
    },

    async maySubscribe(principal, topic) {
      const access = principal as Access | undefined;
      if (!access) return false;
      if (seesAllSubscriptions(ctx, access)) return true;
      if (hasWildcard(topic) || topic.startsWith('$')) return false;
      for (const id of await options.subscriptionsOnTopic(topic)) {
        if (await mayRead(access, id)) return true;
      }
      return false;
    },

    async mayPublish(principal) {
      const access = principal as Access | undefined;
      return access?.role === 'admin';
    },
  };
}
