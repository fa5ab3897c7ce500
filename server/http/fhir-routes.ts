// The FHIR RESTful API (hl7.org/fhir/R4/http.html): maps each URL and method to an interaction.
import type { Resource } from '@medplum/fhirtypes';
import express, { type NextFunction, type Request, type Response } from 'express';
import { isResourceType } from '../../resources/definitions.js';
import { ID_PATTERN } from '../../resources/validate.js';
import { capabilityStatement } from '../../conformance/capability-statement.js';
import type { Access, FhirContext, WriteResult } from '../fhir/context.js';
import { methodNotAllowed, notFound, informational, badRequest, unsupportedMediaType } from '../fhir/errors.js';
import { create } from '../fhir/interactions/create.js';
import { conditionalDelete, deleteResource, type DeleteResult } from '../fhir/interactions/delete.js';
import { history } from '../fhir/interactions/history.js';
import { search } from '../fhir/interactions/search.js';
import { reindex } from '../fhir/operations/reindex.js';
import { subscriptionEvents, subscriptionStatus, websocketBindingToken } from '../../subscriptions/operations.js';
import { websocketUrl } from '../notifications.js';
import { parameterGeneration } from '../../resources/search/parameters.js';
import { systemSearch } from '../fhir/interactions/system-search.js';
import { batch } from '../fhir/bundle/batch.js';
import { bundleOf } from '../fhir/bundle/bundle-entries.js';
import { postedBundle, transaction } from '../fhir/bundle/transaction.js';
import { everything } from '../fhir/interactions/everything.js';
import { compartment, COMPARTMENT_TYPES } from '../../resources/compartments.js';
import { conditionalPatch, patch } from '../fhir/interactions/patch.js';
import { read, vread, type StoredResource } from '../fhir/interactions/read.js';
import { conditionalUpdate, update } from '../fhir/interactions/update.js';
import { parseIfMatch } from '../fhir/version-match.js';
import { binaryBody, sendRawBinary } from './binary.js';
import { assertFhirJsonBody, assertJsonAcceptable, assertPatchBody, mediaTypeOf } from './media-types.js';
import { jsonBody, resourceBody } from './request-body.js';
import { etag, returnPreference, sendJson, sendOutcome, sendResource, sendWriteBody, setVersionHeaders } from './respond.js';

type Handler = (req: Request, res: Response, ctx: FhirContext) => Promise<void> | void;

export function fhirRouter(ctx: FhirContext): express.Router {
  const router = express.Router();
  // The context of one request: the server's, with the caller's access when a token authorised it.
  const contextOf = (res: Response): FhirContext => (res.locals.access ? { ...ctx, access: res.locals.access as Access } : ctx);
  const on = (path: string, handlers: Parameters<typeof route>[2]) => route(router, path, handlers, contextOf);
  // Rebuilt when the search parameters change ($reindex), otherwise served as built.
  let capability = { generation: -1, text: '' };
  const capabilityText = () => {
    if (capability.generation !== parameterGeneration()) {
      capability = { generation: parameterGeneration(), text: JSON.stringify(capabilityStatement(ctx)) };
    }
    return capability.text;
  };

  // Every answer is FHIR JSON, so an Accept or _format we cannot produce fails first.
  // A read of a Binary may also be asked for in its own content type (answered by sendStored).
  const BINARY_READ = /^\/Binary\/[^/]+(?:\/_history\/[^/]+)?$/;
  router.use((req: Request, _res: Response, next: NextFunction) => {
    if (!((req.method === 'GET' || req.method === 'HEAD') && BINARY_READ.test(req.path))) assertJsonAcceptable(req);
    next();
  });

  on('/metadata', { GET: (req, res) => sendJson(req, res, 200, capabilityText()) });
  on('/\$reindex', { POST: async (req, res, ctx) => sendResource(req, res, 200, await reindex(ctx, reindexTypes(req))) });
  on('/', {
    GET: async (req, res, ctx) => sendJson(req, res, 200, await systemSearch(ctx, [...searchOf(req)])),
    POST: async (req, res, ctx) => {
      assertFhirJsonBody(req);
      const body = jsonBody(req);
      const preference = returnPreference(req);
      const type = bundleOf(body, ctx.maxBundleEntries).type;
      // A transaction that has to run again needs the entries as posted, not as it rewrote them.
      const answer = type === 'transaction' ? await transaction(ctx, postedBundle(body, () => jsonBody(req)), preference) : await batch(ctx, body, preference);
      sendResource(req, res, 200, answer);
    },
  });
  on('/_history', { GET: async (req, res, ctx) => sendJson(req, res, 200, (await history(ctx, {}, searchOf(req))).bundle) });

  router.param('type', (_req, _res, next, type: string) => {
    next(isResourceType(type) ? undefined : notFound(`Unknown resource type "${type}"`));
  });
  // An id no resource can have never reaches the database (a NUL in it would fail there).
  router.param('id', (req, _res, next, id: string) => {
    if (ID_PATTERN.test(id)) return next();
    if (id.startsWith('$')) return next(notFound(`Kiln does not serve the operation ${id} on ${String(req.params.type)}`));
    next(badRequest(`${JSON.stringify(id)} is not a valid id: an id is 1 to 64 letters, digits, '-' and '.'`, `${String(req.params.type)}.id`));
  });

  on('/:type', {
    GET: async (req, res, ctx) => sendJson(req, res, 200, await search(ctx, typeOf(req), [...searchOf(req)], { lenient: isLenient(req) })),
    POST: async (req, res, ctx) => {
      const type = typeOf(req);
      const resource = type === 'Binary' ? binaryBody(req) : (assertFhirJsonBody(req), resourceBody(req, type));
      const ifNoneExist = req.get('if-none-exist');
      const result = await create(ctx, resource, { ifNoneExist });
      sendWritten(ctx, req, res, result, result.existing ? `Found ${type}/${result.id} matching If-None-Exist; nothing was created` : `Created ${type}/${result.id}`);
    },
    PUT: async (req, res, ctx) => {
      const type = typeOf(req);
      const resource = writeBody(req, type);
      const result = await conditionalUpdate(ctx, type, requireCriteria(req), resource, { ifMatch: parseIfMatch(req.get('if-match')) });
      sendWritten(ctx, req, res, result, `${result.status === 201 ? 'Created' : 'Updated'} ${type}/${result.id}`);
    },
    PATCH: async (req, res, ctx) => {
      const type = typeOf(req);
      assertPatchBody(req);
      const result = await conditionalPatch(ctx, type, requireCriteria(req), jsonBody(req), parseIfMatch(req.get('if-match')));
      sendWritten(ctx, req, res, result, `Patched ${type}/${result.id}`);
    },
    DELETE: async (req, res, ctx) => {
      const type = typeOf(req);
      sendDeleted(req, res, await conditionalDelete(ctx, type, requireCriteria(req)), type);
    },
  });

  on('/:type/\$reindex', { POST: async (req, res, ctx) => sendResource(req, res, 200, await reindex(ctx, [typeOf(req)])) });

  on('/:type/_search', {
    POST: async (req, res, ctx) => {
      const type = mediaTypeOf(req);
      if (type !== 'application/x-www-form-urlencoded') {
        throw unsupportedMediaType(`POST ${req.baseUrl}${req.path} takes the search parameters as application/x-www-form-urlencoded, not ${type ?? '(none)'}`);
      }
      const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
      const params = [...searchOf(req), ...new URLSearchParams(body)];
      sendJson(req, res, 200, await search(ctx, typeOf(req), params, { lenient: isLenient(req) }));
    },
  });

  on('/:type/_history', {
    GET: async (req, res, ctx) => sendJson(req, res, 200, (await history(ctx, { resourceType: typeOf(req) }, searchOf(req))).bundle),
  });

  on('/:type/:id', {
    GET: async (req, res, ctx) => {
      const stored = await read(ctx, typeOf(req), idOf(req));
      if (notModified(req, stored)) {
        res.status(304).setHeader('ETag', etag(stored.versionId)).end();
        return;
      }
      sendStored(req, res, stored);
    },
    PUT: async (req, res, ctx) => {
      const type = typeOf(req);
      const resource = writeBody(req, type);
      // A raw Binary body carries no id; it is the one in the URL.
      if (type === 'Binary' && resource.id === undefined && !(req.get('content-type') ?? '').includes('json')) resource.id = idOf(req);
      const result = await update(ctx, type, idOf(req), resource, { ifMatch: parseIfMatch(req.get('if-match')) });
      sendWritten(ctx, req, res, result, `${result.status === 201 ? 'Created' : 'Updated'} ${type}/${result.id}`);
    },
    PATCH: async (req, res, ctx) => {
      const type = typeOf(req);
      assertPatchBody(req);
      const result = await patch(ctx, type, idOf(req), jsonBody(req), parseIfMatch(req.get('if-match')));
      sendWritten(ctx, req, res, result, `Patched ${type}/${result.id}`);
    },
    DELETE: async (req, res, ctx) => {
      const type = typeOf(req);
      sendDeleted(req, res, await deleteResource(ctx, type, idOf(req), parseIfMatch(req.get('if-match'))), type);
    },
  });

  on('/Patient/:id/\$everything', {
    GET: async (req, res, ctx) => {
      sendJson(req, res, 200, (await everything(ctx, 'Patient', idOf(req), searchOf(req), `Patient/${idOf(req)}/$everything`)).bundle);
    },
  });

  // The backport IG's Subscription operations (GET, or POST with a Parameters body).
  const subscriptionOperation = (answer: (ctx: FhirContext, id: string, params: URLSearchParams) => Promise<Resource>) => {
    const run: Handler = async (req, res, ctx) => sendJson(req, res, 200, JSON.stringify(await answer(ctx, idOf(req), operationParameters(req))));
    return { GET: run, POST: run };
  };
  on('/Subscription/:id/\$status', subscriptionOperation((ctx, id) => subscriptionStatus(ctx, id)));
  on('/Subscription/:id/\$events', subscriptionOperation((ctx, id, params) => subscriptionEvents(ctx, id, params)));
  on(
    '/Subscription/:id/\$get-ws-binding-token',
    subscriptionOperation((ctx, id) => websocketBindingToken(ctx, id, websocketUrl(ctx.baseUrl))),
  );

  on('/:type/:id/_history', {
    GET: async (req, res, ctx) => sendJson(req, res, 200, (await history(ctx, { resourceType: typeOf(req), id: idOf(req) }, searchOf(req))).bundle),
  });

  // Compartment search: Patient/123/Observation?…, and Patient/123/* for every type in it.
  on('/:type/:id/:compartmentType', {
    GET: async (req, res, ctx) => {
      const owner = typeOf(req);
      const id = idOf(req);
      const target = String(req.params.compartmentType);
      if (!compartment(owner)) throw notFound(`There is no ${owner} compartment (there are: ${COMPARTMENT_TYPES.join(', ')})`);
      await read(ctx, owner, id);
      if (target === '*') {
        sendJson(req, res, 200, (await everything(ctx, owner, id, searchOf(req), `${owner}/${id}/*`)).bundle);
        return;
      }
      if (!isResourceType(target)) throw notFound(`Unknown resource type "${target}"`);
      sendJson(req, res, 200, await search(ctx, target, [...searchOf(req)], { lenient: isLenient(req), compartment: { type: owner, id } }));
    },
  });

  on('/:type/:id/_history/:vid', {
    GET: async (req, res, ctx) => sendStored(req, res, await vread(ctx, typeOf(req), idOf(req), String(req.params.vid))),
  });

  router.use((req: Request) => {
    throw notFound(`No FHIR endpoint at ${req.method} ${req.baseUrl}${req.path}`);
  });
  return router;
}

/** Registers the methods a path supports; any other method on it answers 405 with Allow. */
function route(router: express.Router, path: string, handlers: Partial<Record<'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', Handler>>, contextOf: (res: Response) => FhirContext): void {
  const allowed = Object.keys(handlers);
  if (handlers.GET) allowed.push('HEAD');
  router.all(path, async (req: Request, res: Response) => {
    const method = req.method === 'HEAD' ? 'GET' : (req.method as keyof typeof handlers);
    const handler = handlers[method];
    if (!handler) {
      res.setHeader('Allow', allowed.join(', '));
      throw methodNotAllowed(`${req.method} is not supported on ${req.baseUrl}${req.path}; allowed: ${allowed.join(', ')}`);
    }
    await handler(req, res, contextOf(res));
  });
}

const typeOf = (req: Request): string => String(req.params.type);

/** An operation's parameters: the query, or the primitive parameters of a Parameters body. */
function operationParameters(req: Request): URLSearchParams {
  const params = searchOf(req);
  if (req.method !== 'POST' || !Buffer.isBuffer(req.body) || req.body.length === 0) return params;
  assertFhirJsonBody(req);
  const body = jsonBody(req) as { resourceType?: string; parameter?: { name?: unknown; [key: string]: unknown }[] };
  if (body?.resourceType !== 'Parameters') throw badRequest('The operation takes a Parameters resource (or no body)');
  for (const parameter of body.parameter ?? []) {
    const value = Object.entries(parameter).find(([key]) => key.startsWith('value'))?.[1];
    if (typeof parameter.name === 'string' && (typeof value === 'string' || typeof value === 'number')) params.append(parameter.name, String(value));
  }
  return params;
}

/** `$reindex?_type=A,B`, or a Parameters body naming `type`s; none means the types with custom parameters. */
function reindexTypes(req: Request): string[] | undefined {
  const fromQuery = searchOf(req).getAll('_type').flatMap((v) => v.split(','));
  let fromBody: string[] = [];
  if (Buffer.isBuffer(req.body) && req.body.length) {
    assertFhirJsonBody(req);
    const body = jsonBody(req) as { resourceType?: string; parameter?: { name?: string; valueCode?: string; valueString?: string }[] };
    if (body?.resourceType !== 'Parameters') throw badRequest('$reindex takes a Parameters resource (or no body)');
    fromBody = (body.parameter ?? []).filter((p) => p.name === 'type').map((p) => p.valueCode ?? p.valueString ?? '');
  }
  const types = [...fromQuery, ...fromBody];
  return types.length ? types : undefined;
}
/** `Prefer: handling=lenient` (hl7.org/fhir/R4/search.html#errors). */
const isLenient = (req: Request): boolean => /(?:^|[,;\s])handling\s*=\s*lenient/.test(req.get('prefer') ?? '');
const idOf = (req: Request): string => String(req.params.id);

function searchOf(req: Request): URLSearchParams {
  const at = req.originalUrl.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : req.originalUrl.slice(at + 1));
}

/** The query string of a conditional interaction on the type URL. */
function requireCriteria(req: Request): string {
  const query = searchOf(req);
  for (const name of ['_format', '_pretty']) query.delete(name);
  const text = query.toString();
  if (!text) throw methodNotAllowed(`${req.method} on ${req.baseUrl}${req.path} needs search criteria (a conditional ${req.method.toLowerCase()}), or an id in the URL`);
  return text;
}

function writeBody(req: Request, type: string): Resource {
  if (type === 'Binary') return binaryBody(req);
  assertFhirJsonBody(req);
  return resourceBody(req, type);
}

function sendStored(req: Request, res: Response, stored: StoredResource): void {
  setVersionHeaders(res, stored);
  if (stored.resourceType === 'Binary' && sendRawBinary(req, res, stored)) return;
  sendJson(req, res, 200, stored.content, true);
}

function sendWritten(ctx: FhirContext, req: Request, res: Response, result: WriteResult, message: string): void {
  setVersionHeaders(res, { ...result, location: `${ctx.baseUrl}/${result.resourceType}/${result.id}/_history/${result.versionId}` });
  sendWriteBody(req, res, result.status, result.content, message);
}

function sendDeleted(req: Request, res: Response, result: DeleteResult, type: string): void {
  if (result.deleted.length === 1) res.setHeader('ETag', etag(result.deleted[0].versionId));
  if (returnPreference(req) !== 'OperationOutcome') {
    res.status(204).end();
    return;
  }
  const text = result.deleted.length
    ? `Deleted ${result.deleted.map((d) => `${type}/${d.id}`).join(', ')}`
    : `Nothing to delete: no current ${type} matched`;
  sendOutcome(req, res, 200, informational(text));
}

/** If-None-Match (a version ETag or *) and If-Modified-Since on read (hl7.org/fhir/R4/http.html#cread). */
function notModified(req: Request, stored: StoredResource): boolean {
  const ifNoneMatch = req.get('if-none-match');
  if (ifNoneMatch !== undefined) {
    const tags = ifNoneMatch.split(',').map((t) => t.trim());
    const current = etag(stored.versionId);
    return tags.some((tag) => tag === '*' || tag === current || tag === `"${stored.versionId}"`);
  }
  const ifModifiedSince = req.get('if-modified-since');
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    if (Number.isNaN(since)) throw badRequest(`If-Modified-Since "${ifModifiedSince}" is not an HTTP date`);
    // HTTP dates have whole seconds; compare at that precision.
    return Math.floor(stored.lastUpdated.getTime() / 1000) * 1000 <= since;
  }
  return false;
}

