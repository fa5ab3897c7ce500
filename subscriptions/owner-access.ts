// A subscription notifies its owner only of what the owner may read: the owner is the caller that
// last wrote the Subscription, as the change feed recorded it, and its access is rebuilt from that
// record the way a request's is from its token. A Subscription Kiln wrote itself, or one written
// with authorization off, has no owner and no restriction.
import { parseScopes } from '../server/auth/scopes.js';
import type { Access, FhirContext } from '../server/fhir/context.js';
import { readRestriction } from '../server/fhir/access-checks.js';
import type { FeedActor } from '../server/store/change-feed.js';
import type { Condition } from '../server/store/search/condition.js';

export function ownerAccess(owner: FeedActor): Access {
  return {
    scopes: parseScopes(owner.scopes.join(' ')).resources,
    role: owner.role as Access['role'],
    fhirUser: owner.fhirUser,
    ...(owner.patient ? { patient: owner.patient } : {}),
    clientId: owner.clientId,
    subject: owner.subject,
  };
}

/** The context a subscription's conditions are built in: Kiln's own, narrowed to its owner. */
export function ownerContext(ctx: FhirContext, owner: FeedActor | null): FhirContext {
  return owner ? { ...ctx, access: ownerAccess(owner) } : { ...ctx, access: undefined };
}

/**
 * What a resource of `type` must also meet to be notified to the owner: undefined for no
 * restriction, null when the owner may not read `type` at all.
 */
export function ownerRestriction(ownerCtx: FhirContext, type: string): Condition | undefined | null {
  return readRestriction(ownerCtx, type);
}
