// Who a write is recorded as in the change feed: the caller its token authorised, so that the
// feed's consumers (subscriptions, which notify a subscription's owner only of what it may read)
// know whose write it was. Kiln's own work, and requests with authorization off, have none.
import type { FeedActor } from '../store/change-feed.js';
import type { FhirContext } from './context.js';

export function feedActor(ctx: FhirContext): FeedActor | null {
  const access = ctx.access;
  if (!access) return null;
  return {
    role: access.role,
    subject: access.subject,
    clientId: access.clientId,
    fhirUser: access.fhirUser,
    ...(access.patient ? { patient: access.patient } : {}),
    scopes: access.scopes.map((scope) => scope.text),
  };
}
