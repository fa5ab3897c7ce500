// Storing one new version of a resource: content with server meta, search columns, history row.
import type { Resource } from '@medplum/fhirtypes';
import { emptyIndexValues, indexValues } from '../../resources/search/index-values.js';
import { insertCreated } from '../store/create-batch.js';
import type { Database, Queryable } from '../store/database.js';
import { writeVersion, type VersionWrite } from '../store/resource-store.js';
import type { WriteResult } from './context.js';
import { joinContent, splitContent, type SplitContent } from './stored-content.js';

export interface NewVersion {
  resource: Resource;
  id: string;
  versionId: number;
  isNew: boolean;
  method: VersionWrite['method'];
  url: string;
}

function prepare(version: NewVersion) {
  const { resource, id, versionId } = version;
  const split = splitContent(resource, id, versionId);
  const stored = { ...resource, id } as Resource;
  return { split, columns: indexValues(stored) };
}

function result(version: NewVersion, split: SplitContent, lastUpdated: Date): WriteResult {
  return {
    status: version.isNew ? 201 : 200,
    resourceType: version.resource.resourceType,
    id: version.id,
    versionId: version.versionId,
    lastUpdated,
    content: joinContent(split, lastUpdated),
  };
}

/** A create with a server-assigned id outside any transaction: written together with concurrent ones. */
export async function storeNewResource(db: Database, version: NewVersion): Promise<WriteResult> {
  const { split, columns } = prepare(version);
  const lastUpdated = await insertCreated(db, version.resource.resourceType, {
    id: version.id,
    contentHead: split.head,
    contentTail: split.tail,
    columns,
  });
  return result(version, split, lastUpdated);
}

export async function storeVersion(q: Queryable, version: NewVersion): Promise<WriteResult> {
  const { resource, id, versionId } = version;
  const { split, columns } = prepare(version);
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
  });
  return result(version, split, lastUpdated);
}

export async function storeDeletion(q: Queryable, resourceType: string, id: string, versionId: number): Promise<Date> {
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
  });
}
