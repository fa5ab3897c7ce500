// FHIR R4 §3.1.0.5 patch with JSON Patch (hl7.org/fhir/R4/http.html#patch, RFC 6902).
import type { Resource } from '@medplum/fhirtypes';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { lockCurrent, readCurrent } from '../../store/resource-store.js';
import { findMatchingIds } from '../../store/match-query.js';
import { parseCriteria } from '../conditional-criteria.js';
import type { FhirContext, WriteResult } from '../context.js';
import { badRequest, gone, notFound, preconditionFailed, unprocessable } from '../errors.js';
import type { Queryable } from '../../store/database.js';
import { updateIn } from './update.js';

const { applyPatch, JsonPatchError } = fastJsonPatch;

export async function patch(ctx: FhirContext, resourceType: string, id: string, operations: unknown, ifMatch?: number): Promise<WriteResult> {
  const ops = asOperations(operations);
  return ctx.db.transaction((tx) => patchIn(ctx, tx, resourceType, id, ops, ifMatch));
}

export async function conditionalPatch(ctx: FhirContext, resourceType: string, query: string, operations: unknown, ifMatch?: number): Promise<WriteResult> {
  const ops = asOperations(operations);
  const criteria = parseCriteria(resourceType, query, 'Conditional patch', ctx.baseUrl);
  return ctx.db.transaction(async (tx) => {
    const matches = await findMatchingIds(tx, resourceType, criteria, 2);
    if (matches.length === 0) throw notFound(`Conditional patch "${query}" matches no ${resourceType}`);
    if (matches.length > 1) throw preconditionFailed(`Conditional patch "${query}" matches more than one ${resourceType}`);
    return patchIn(ctx, tx, resourceType, matches[0], ops, ifMatch);
  });
}

async function patchIn(ctx: FhirContext, tx: Queryable, resourceType: string, id: string, ops: Operation[], ifMatch?: number): Promise<WriteResult> {
  // Lock first so that the version we patch is the version we replace.
  const locked = await lockCurrent(tx, resourceType, id);
  if (!locked) throw notFound(`${resourceType}/${id} is not known`);
  if (locked.deleted) throw gone(`${resourceType}/${id} has been deleted`);
  const current = await readCurrent(tx, resourceType, id);
  const original = JSON.parse(current?.content as string) as Resource;
  let patched: Resource;
  try {
    patched = applyPatch(original, ops, true, false).newDocument;
  } catch (error) {
    if (error instanceof JsonPatchError) {
      const where = `operation ${Number(error.index ?? 0) + 1}`;
      if (error.name === 'TEST_OPERATION_FAILED') throw unprocessable(`JSON Patch test failed at ${where} (${error.operation?.path})`);
      throw unprocessable(`JSON Patch cannot be applied: ${where} (${error.operation?.op} ${error.operation?.path}): ${error.message.split('\n')[0]}`);
    }
    throw error;
  }
  if (patched === null || typeof patched !== 'object' || patched.resourceType !== resourceType) {
    throw unprocessable('JSON Patch may not change the resourceType');
  }
  if (patched.id !== id) throw unprocessable('JSON Patch may not change the id');
  return updateIn(ctx, tx, resourceType, id, patched, { ifMatch, method: 'PATCH' });
}

function asOperations(operations: unknown): Operation[] {
  if (!Array.isArray(operations)) throw badRequest('A JSON Patch document is an array of operations');
  const problem = fastJsonPatch.validate(operations as Operation[]);
  if (problem) throw badRequest(`Invalid JSON Patch operation ${Number(problem.index ?? 0) + 1}: ${problem.message.split('\n')[0]}`);
  return operations as Operation[];
}
