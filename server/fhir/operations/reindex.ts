// $reindex: makes new or changed SearchParameter resources take effect. It reads them, adds the
// columns they need, and recomputes the search values of the affected resources batch by batch,
// each batch its own short transaction, so a large table never holds one long lock.
import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { indexValues } from '../../../resources/search/index-values.js';
import { isResourceType } from '../../../resources/definitions.js';
import type { Resource } from '@medplum/fhirtypes';
import { bumpRegistryGeneration, readBatchAfter, updateSearchColumns } from '../../store/reindex-store.js';
import type { FhirContext } from '../context.js';
import { assertAdmin } from '../access-checks.js';
import { invalidValue } from '../errors.js';
import { installCustomSearchParameters } from '../custom-search-parameters.js';

const BATCH = 500;

export async function reindex(ctx: FhirContext, requestedTypes: string[] | undefined): Promise<Parameters> {
  assertAdmin(ctx, '$reindex');
  const unknown = (requestedTypes ?? []).filter((t) => !isResourceType(t));
  if (unknown.length) throw invalidValue(`$reindex: ${unknown.join(', ')} is not a resource type`);
  const load = await installCustomSearchParameters(ctx.db);
  const types = requestedTypes ?? [...new Set(load.installed.map((p) => p.type))].sort();
  const counts: ParametersParameter[] = [];
  for (const type of types) {
    let count = 0;
    let after: string | undefined;
    for (;;) {
      const rows = await readBatchAfter(ctx.db, type, after, BATCH);
      if (!rows.length) break;
      const updates = rows.map((row) => ({ id: row.id, columns: indexValues(JSON.parse(row.content) as Resource) }));
      await ctx.db.transaction((tx) => updateSearchColumns(tx, type, updates));
      count += rows.length;
      after = rows[rows.length - 1].id;
    }
    counts.push({ name: 'reindexed', part: [{ name: 'type', valueCode: type }, { name: 'count', valueInteger: count }] });
  }
  // Tell every other Kiln process to load the parameters too.
  await bumpRegistryGeneration(ctx.db);
  return {
    resourceType: 'Parameters',
    parameter: [
      ...load.installed.map((p) => ({ name: 'searchParameter', valueString: `${p.type}.${p.code}` })),
      ...counts,
      ...load.rejected.map((r) => ({ name: 'rejected', part: [{ name: 'searchParameter', valueString: r.id }, { name: 'reason', valueString: r.reason }] })),
    ],
  };
}
