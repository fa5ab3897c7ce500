// Storing one new version of a resource: content with server meta, search columns, history row.
import type { Resource } from '@medplum/fhirtypes';
import { emptyIndexValues, indexValues } from '../../resources/search/index-values.js';
import { patientLinkDefinitions, patientMembership } from '../../resources/patient-compartment.js';
import { insertCreated } from '../store/create-batch.js';
import type { FeedActor } from '../store/change-feed.js';
import type { Database, Queryable } from '../store/database.js';
import { currentPatientCompartment, writeVersion, type VersionWrite } from '../store/resource-store.js';
import type { WriteResult } from './context.js';
import { joinContent, splitContent, type SplitContent } from './stored-content.js';

export interface NewVersion {
  resource: Resource;
  id: string;
  versionId: number;
  isNew: boolean;
  method: VersionWrite['method'];
  url: string;
  /** This server's base URL: absolute references under it are local. */
  baseUrl: string;
  /** The patients it belongs to, when the caller worked them out already (an access check). */
  patientCompartment?: string[];
  /** Who writes it, for the change feed. */
  actor?: FeedActor | null;
}

/**
 * The patients a version belongs to. `row` holds at least its link parameters' search values; a
 * Binary shares the patients of the resource its securityContext names, as they are now.
 */
export async function patientCompartmentOf(q: Queryable, resource: Resource, baseUrl: string, row?: Record<string, unknown>): Promise<string[]> {
  const membership = patientMembership(resource, row ?? indexValues(resource, patientLinkDefinitions(resource.resourceType)), baseUrl);
  if (!membership.sharesWith) return membership.patients;
  const shared = await currentPatientCompartment(q, membership.sharesWith.resourceType, membership.sharesWith.id);
  return [...new Set([...membership.patients, ...shared])].sort();
}

async function prepare(q: Queryable, version: NewVersion) {
  const { resource, id, versionId } = version;
  const split = splitContent(resource, id, versionId);
  const stored = { ...resource, id } as Resource;
  const columns = indexValues(stored);
  const patients = version.patientCompartment ?? (await patientCompartmentOf(q, stored, version.baseUrl, columns));
  return { split, columns, patients };
}

function result(version: NewVersion, split: SplitContent, lastUpdated: Date, patientCompartment: string[]): WriteResult {
  return {
    status: version.isNew ? 201 : 200,
    resourceType: version.resource.resourceType,
    id: version.id,
    versionId: version.versionId,
    lastUpdated,
    content: joinContent(split, lastUpdated),
    patientCompartment,
  };
}

/** A create with a server-assigned id outside any transaction: written together with concurrent ones. */
export async function storeNewResource(db: Database, version: NewVersion): Promise<WriteResult> {
  const { split, columns, patients } = await prepare(db, version);
  const lastUpdated = await insertCreated(db, version.resource.resourceType, {
    id: version.id,
    contentHead: split.head,
    contentTail: split.tail,
    columns,
    patientCompartment: patients,
    actor: version.actor,
  });
  return result(version, split, lastUpdated, patients);
}

export async function storeVersion(q: Queryable, version: NewVersion): Promise<WriteResult> {
  const { resource, id, versionId } = version;
  const { split, columns, patients } = await prepare(q, version);
  const lastUpdated = await writeVersion(q, {
    resourceType: resource.resourceType,
    id,
    versionId,
    isNew: version.isNew,
    deleted: false,
    method: version.method,
    url: version.url,
    contentHead: split.head,
    contentTail: split.tail,
    columns,
    patientCompartment: patients,
    actor: version.actor,
  });
  return result(version, split, lastUpdated, patients);
}

/** A deletion keeps the patients of the version it ends: only they may learn of it. */
export async function storeDeletion(q: Queryable, resourceType: string, id: string, versionId: number, patientCompartment: string[], actor?: FeedActor | null): Promise<Date> {
  const columns = emptyIndexValues(resourceType);
  return writeVersion(q, {
    resourceType,
    id,
    versionId,
    isNew: false,
    deleted: true,
    method: 'DELETE',
    url: `${resourceType}/${id}`,
    contentHead: null,
    contentTail: null,
    columns,
    patientCompartment,
    actor,
  });
}
