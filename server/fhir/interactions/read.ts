// FHIR R4 §3.1.0.2 read and §3.1.0.3 vread (hl7.org/fhir/R4/http.html#read).
import { readCurrentBatched, readVersion, type StoredVersion } from '../../store/resource-store.js';
import { assertCanReadStored } from '../access-checks.js';
import { auditRead } from '../audit-hooks.js';
import type { FhirContext } from '../context.js';
import { gone, notFound } from '../errors.js';

export type StoredResource = StoredVersion & { resourceType: string; content: string };

export async function read(ctx: FhirContext, resourceType: string, id: string): Promise<StoredResource> {
  const current = await readCurrentBatched(ctx.db, resourceType, id);
  if (!current) throw notFound(`${resourceType}/${id} is not known`);
  if (current.deleted || current.content === null) throw gone(`${resourceType}/${id} has been deleted`);
  await assertCanReadStored(ctx, resourceType, id, current.content);
  auditRead(ctx, 'read', { reference: `${resourceType}/${id}/_history/${current.versionId}` });
  return { ...current, resourceType, content: current.content };
}

export async function vread(ctx: FhirContext, resourceType: string, id: string, versionId: string): Promise<StoredResource> {
  const version = /^[1-9][0-9]{0,8}$/.test(versionId) ? await readVersion(ctx.db, resourceType, id, Number(versionId)) : undefined;
  if (!version) throw notFound(`${resourceType}/${id} has no version ${versionId}`);
  if (version.deleted || version.content === null) throw gone(`Version ${versionId} of ${resourceType}/${id} is a deletion`);
  await assertCanReadStored(ctx, resourceType, id, version.content);
  auditRead(ctx, 'vread', { reference: `${resourceType}/${id}/_history/${version.versionId}` });
  return { ...version, resourceType, content: version.content };
}
