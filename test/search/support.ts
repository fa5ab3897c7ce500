// Search tests create their own resources, marked with a tag unique to the test run, and scope
// every search to that tag, so they hold on a shared database with other data in it.
import request from 'supertest';
import { FHIR_JSON, uniqueId, type TestServer } from '../support/test-server.js';

export interface Scope {
  tag: string;
  /** `_tag=…` to add to every query. */
  query: string;
  create(resource: Record<string, unknown>): Promise<Record<string, unknown> & { id: string }>;
  /** Ids of the matches of `Type?query` (scoped to the tag), in the order returned. */
  ids(type: string, query: string): Promise<string[]>;
  search(type: string, query: string): Promise<request.Response>;
}

export function scope(kiln: TestServer): Scope {
  const tag = uniqueId('run');
  const system = 'urn:kiln:test';
  const query = `_tag=${encodeURIComponent(`${system}|${tag}`)}`;
  const search = (type: string, q: string) => request(kiln.server).get(`/fhir/${type}?${q}${q ? '&' : ''}${query}`);
  return {
    tag,
    query,
    async create(resource) {
      const meta = (resource.meta as Record<string, unknown>) ?? {};
      const body = { ...resource, meta: { ...meta, tag: [...((meta.tag as unknown[]) ?? []), { system, code: tag }] } };
      const res = await request(kiln.server).post(`/fhir/${resource.resourceType}`).set('Content-Type', FHIR_JSON).send(JSON.stringify(body));
      if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`);
      return res.body;
    },
    search,
    async ids(type, q) {
      const res = await search(type, q);
      if (res.status !== 200) throw new Error(`search ${type}?${q} answered ${res.status}: ${res.text}`);
      return (res.body.entry ?? []).filter((e: { search: { mode: string } }) => e.search.mode === 'match').map((e: { resource: { id: string } }) => e.resource.id);
    },
  };
}
