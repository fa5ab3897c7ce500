// Storing one new version of a resource: content with server meta, search columns, history row.
import type { Resource } from '@medplum/fhirtypes';
import { searchColumns } from '../../resources/search-columns.js';
import type { Queryable } from '../store/database.js';
import { writeVersion, type VersionWrite } from '../store/resource-store.js';
import type { WriteResult } from './context.js';
import { joinContent, splitContent } from './stored-content.js';

export interface NewVersion {
  resource: Resource;
  id: string;
  versionId: number;
  isNew: boolean;
  method: VersionWrite['method'];
  url: string;
}

export async function storeVersion(q: Queryable, version: NewVersion): Promise<WriteResult> {
  const { resource, id, versionId } = version;
  const split = splitContent(resource, id, versionId);
  const stored = { ...resource, id } as Resource;
  const columns: Record<string, unknown> = {};
  for (const column of searchColumns(resource.resourceType)) columns[column.code] = column.extract(stored);
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
  return {
    status: version.isNew ? 201 : 200,
    resourceType: resource.resourceType,
    id,
    versionId,
    lastUpdated,
    content: joinContent(split, lastUpdated),
  };
}

export async function storeDeletion(q: Queryable, resourceType: string, id: string, versionId: number): Promise<Date> {
  const columns: Record<string, unknown> = {};
  for (const column of searchColumns(resourceType)) columns[column.code] = null;
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
