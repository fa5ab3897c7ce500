// Searches a Bundle makes before it writes: the one resource a conditional reference
// (`Patient?identifier=…`, hl7.org/fhir/R4/http.html#trules) or conditional write names.
import { findMatchingIds } from '../../store/match-query.js';
import { parseCriteria } from '../conditional-criteria.js';
import type { FhirContext } from '../context.js';
import { notFound, preconditionFailed } from '../errors.js';

/** The id of the one match of `type?query`, undefined for none; 412 for several. */
export async function soleMatch(ctx: FhirContext, type: string, query: string, source: string): Promise<string | undefined> {
  const matches = await findMatchingIds(ctx.db, type, parseCriteria(ctx, type, query, source), 2);
  if (matches.length > 1) throw preconditionFailed(`${source} "${query}" matches more than one ${type}`);
  return matches[0];
}

/** `Type/id` of the resource a conditional reference names: 404 when none matches, 412 when several do. */
export async function conditionalTarget(ctx: FhirContext, reference: string): Promise<string> {
  const at = reference.indexOf('?');
  const type = reference.slice(0, at);
  const id = await soleMatch(ctx, type, reference.slice(at + 1), `Conditional reference ${reference}`);
  if (!id) throw notFound(`Conditional reference "${reference}" matches no ${type}`);
  return `${type}/${id}`;
}
