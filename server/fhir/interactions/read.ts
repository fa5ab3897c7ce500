// FHIR R4 §3.1.0.2 read and §3.1.0.3 vread (hl7.org/fhir/R4/http.html#read). What a confined
// caller may not reach answers exactly as what does not exist.
import { readCurrentBatched, readVersion, type StoredVersion } from '../../store/resource-store.js';
import { assertCurrentWithinFilters, assertMayRead, canReach, forbidden, versionsWithinFilters } from '../access-checks.js';
import { auditRead } from '../audit-hooks.js';
import type { FhirContext } from '../context.js';
import { gone, notFound } from '../errors.js';

export type StoredResource = StoredVersion & { resourceType: string; content: string };

export async function read(ctx: FhirContext, resourceType: string, id: string): Promise<StoredResource> {
  const scopes = assertMayRead(ctx, resourceType, id);
  const current = await readCurrentBatched(ctx.db, resourceType, id);
  if (!current || !canReach(ctx, resourceType, current.patientCompartment)) throw notFound(`${resourceType}/${id} is not known`);
  if (current.deleted || current.content === null) throw gone(`${resourceType}/${id} has been deleted`);
  await assertCurrentWithinFilters(ctx, ctx.db, resourceType, id, scopes);
  auditRead(ctx, 'read', { reference: `${resourceType}/${id}/_history/${current.versionId}` });
  return { ...current, resourceType, content: current.content };
}

export async function vread(ctx: FhirContext, resourceType: string, id: string, versionId: string): Promise<StoredResource> {
  const scopes = assertMayRead(ctx, resourceType, id);
  const version = /^[1-9][0-9]{0,8}$/.test(versionId) ? await readVersion(ctx.db, resourceType, id, Number(versionId)) : undefined;
  if (!version || !canReach(ctx, resourceType, version.patientCompartment)) throw notFound(`${resourceType}/${id} has no version ${versionId}`);
  if (version.deleted || version.content === null) throw gone(`Version ${versionId} of ${resourceType}/${id} is a deletion`);
  // Each version is judged on its own content: an earlier one may fall outside a filter the current one meets.
  const [within] = await versionsWithinFilters(ctx, resourceType, [version], scopes);
  if (!within) throw forbidden(`Version ${versionId} of ${resourceType}/${id} is outside the filters of the token's scopes`);
  auditRead(ctx, 'vread', { reference: `${resourceType}/${id}/_history/${version.versionId}` });
  return { ...version, resourceType, content: version.content };
}
