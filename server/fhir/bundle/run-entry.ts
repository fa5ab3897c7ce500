// One Bundle entry run through the same interaction as its single-request form, and its answer as
// a response entry: status, location, etag, lastModified, and the resource or an outcome as the
// client's Prefer header asks (hl7.org/fhir/R4/bundle-definitions.html#Bundle.entry.response).
import { STATUS_CODES } from 'node:http';
import type { Binary, Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { FhirContext, ReturnPreference, WriteResult } from '../context.js';
import { badRequest, informational } from '../errors.js';
import { create } from '../interactions/create.js';
import { conditionalDelete, deleteResource } from '../interactions/delete.js';
import { history } from '../interactions/history.js';
import { conditionalPatch, patch } from '../interactions/patch.js';
import { read, vread, type StoredResource } from '../interactions/read.js';
import { search } from '../interactions/search.js';
import { conditionalUpdate, update } from '../interactions/update.js';
import { parseJson } from '../json-text.js';
import type { ParsedEntry } from './bundle-entries.js';
import type { ReadBudget } from './read-budget.js';

export interface EntryOutcome {
  response: NonNullable<BundleEntry['response']>;
  resource?: Resource;
  /** What the entry wrote, for the reference check a transaction makes after all its writes. */
  written?: Resource;
}

const STATUS_TEXT: Record<number, string> = Object.fromEntries([200, 201, 204, 304].map((code) => [code, `${code} ${STATUS_CODES[code]}`]));
const etag = (versionId: number) => `W/"${versionId}"`;

/** `budget`: what the Bundle's read entries may still answer with (read-budget.ts). */
export async function runEntry(ctx: FhirContext, entry: ParsedEntry, preference: ReturnPreference, assignedId?: string, budget?: ReadBudget): Promise<EntryOutcome> {
  const { request, resource } = entry;
  const type = request.resourceType as string;
  switch (request.method) {
    case 'POST': {
      const result = await create(ctx, resource as Resource, { ifNoneExist: request.ifNoneExist, id: assignedId });
      const message = result.existing ? `Found ${type}/${result.id} matching ifNoneExist` : `Created ${type}/${result.id}`;
      return written(result, preference, message, result.existing ? undefined : { ...(resource as Resource), id: result.id });
    }
    case 'PUT': {
      const result = request.id
        ? await update(ctx, type, request.id, resource as Resource, { ifMatch: request.ifMatch })
        : await conditionalUpdate(ctx, type, request.query as string, resource as Resource, { ifMatch: request.ifMatch, serverAssignedId: assignedId !== undefined });
      return written(result, preference, `${result.status === 201 ? 'Created' : 'Updated'} ${type}/${result.id}`, { ...(resource as Resource), id: result.id });
    }
    case 'PATCH': {
      const operations = jsonPatchOf(resource as Resource);
      const result = request.id
        ? await patch(ctx, type, request.id, operations, request.ifMatch)
        : await conditionalPatch(ctx, type, request.query as string, operations, request.ifMatch);
      return written(result, preference, `Patched ${type}/${result.id}`, JSON.parse(result.content) as Resource);
    }
    case 'DELETE': {
      const result = request.id ? await deleteResource(ctx, type, request.id, request.ifMatch) : await conditionalDelete(ctx, type, request.query as string);
      const response: EntryOutcome['response'] = { status: STATUS_TEXT[204] };
      if (result.deleted.length === 1) response.etag = etag(result.deleted[0].versionId);
      if (preference === 'OperationOutcome') {
        response.outcome = informational(result.deleted.length ? `Deleted ${result.deleted.map((d) => `${type}/${d.id}`).join(', ')}` : `Nothing to delete: no current ${type} matched`);
      }
      return { response };
    }
    case 'GET':
    case 'HEAD':
      return runRead(ctx, entry, request.method === 'HEAD', budget);
  }
}

/** `resource`: what was written (as sent; the stored form differs only in meta), for the reference check. */
function written(result: WriteResult, preference: ReturnPreference, message: string, resource: Resource | undefined): EntryOutcome {
  const response: EntryOutcome['response'] = {
    status: STATUS_TEXT[result.status],
    location: `${result.resourceType}/${result.id}/_history/${result.versionId}`,
    etag: etag(result.versionId),
    lastModified: result.lastUpdated.toISOString(),
  };
  if (preference === 'OperationOutcome') response.outcome = informational(message);
  return { response, resource: preference === 'representation' ? (JSON.parse(result.content) as Resource) : undefined, written: resource };
}

async function runRead(ctx: FhirContext, entry: ParsedEntry, head: boolean, budget?: ReadBudget): Promise<EntryOutcome> {
  const { request } = entry;
  const type = request.resourceType as string;
  budget?.assertOpen();
  // A read answers with one resource; a search or a history page with each one its Bundle holds.
  const body = (resource: Resource, resources = 1) => {
    budget?.charge(resources);
    return head ? undefined : resource;
  };
  const page = (text: string) => {
    const bundle = JSON.parse(text) as Bundle;
    return body(bundle, bundle.entry?.length ?? 0);
  };
  if (request.id && !request.history) {
    const stored = request.versionId ? await vread(ctx, type, request.id, request.versionId) : await read(ctx, type, request.id);
    const response = { status: STATUS_TEXT[200], etag: etag(stored.versionId), lastModified: stored.lastUpdated.toISOString() };
    if (!request.versionId && notModified(entry, stored)) return { response: { ...response, status: STATUS_TEXT[304] } };
    return { response, resource: body(JSON.parse(stored.content) as Resource) };
  }
  const query = new URLSearchParams(request.query ?? '');
  if (request.history) {
    return { response: { status: STATUS_TEXT[200] }, resource: page((await history(ctx, { resourceType: type, id: request.id }, query)).bundle) };
  }
  return { response: { status: STATUS_TEXT[200] }, resource: page(await search(ctx, type, [...query], { lenient: false })) };
}

/** ifNoneMatch (an ETag or *) and ifModifiedSince of a read entry. */
function notModified(entry: ParsedEntry, stored: StoredResource): boolean {
  const { ifNoneMatch, ifModifiedSince } = entry.request;
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch.split(',').some((tag) => ['*', etag(stored.versionId), `"${stored.versionId}"`].includes(tag.trim()));
  }
  return ifModifiedSince !== undefined && Math.floor(stored.lastUpdated.getTime() / 1000) <= Math.floor(ifModifiedSince.getTime() / 1000);
}

/** A PATCH entry carries its JSON Patch as a Binary (hl7.org/fhir/R4/http.html#patch). */
function jsonPatchOf(resource: Resource): unknown {
  const binary = resource as Binary;
  if (binary.resourceType !== 'Binary' || !/^application\/json-patch\+json\b/.test(binary.contentType ?? '')) {
    throw badRequest('A PATCH entry carries a JSON Patch as a Binary with contentType application/json-patch+json');
  }
  return parseJson(Buffer.from(binary.data ?? '', 'base64').toString('utf8'), 'The JSON Patch in Binary.data');
}
