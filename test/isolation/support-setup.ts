// Writes the support resources of the isolation fixtures to a Kiln, once: on a database that
// outlives the run (CI's real Postgres) or is shared by test files running at once, the fixed ids
// are already there or being written, so each is a conditional create on its own id.
import { create } from '../../server/fhir/interactions/create.js';
import type { FhirContext } from '../../server/fhir/context.js';
import { supportResources } from './instances.js';

export async function createSupportResources(ctx: FhirContext): Promise<void> {
  for (const support of supportResources()) {
    await create(ctx, support, { id: support.id, ifNoneExist: `_id=${support.id}` });
  }
}
