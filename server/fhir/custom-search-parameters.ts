// FHIR R4 SearchParameter resources a server's users define (hl7.org/fhir/R4/searchparameter.html):
// the active ones stored here become search parameters of their base types. They are read at
// start-up and by $reindex, never on a write, so that a parameter is only answered once the
// existing resources have been indexed for it.
import type { SearchParameter } from '@medplum/fhirtypes';
import { isResourceType } from '../../resources/definitions.js';
import { officialParameter, parameterDefinition, setCustomParameters, type ParameterDefinition } from '../../resources/search/parameters.js';
import type { Database, Queryable } from '../store/database.js';
import { syncSearchColumns } from '../store/schema.js';
import { readAllCurrent } from '../store/reindex-store.js';

export interface CustomParameterLoad {
  installed: { type: string; code: string }[];
  rejected: { id: string; reason: string }[];
  byType: Map<string, Map<string, ParameterDefinition>>;
}

/**
 * Reads the stored SearchParameters and makes the usable ones live. Their columns are added first,
 * so no write ever computes a value for a column that does not exist yet.
 */
export async function installCustomSearchParameters(db: Database): Promise<CustomParameterLoad> {
  const load = await readCustomSearchParameters(db);
  await syncSearchColumns(db, load.byType);
  setCustomParameters(load.byType);
  return load;
}

async function readCustomSearchParameters(q: Queryable): Promise<CustomParameterLoad> {
  const stored = (await readAllCurrent(q, 'SearchParameter')).map((text) => JSON.parse(text) as SearchParameter);
  const byType = new Map<string, Map<string, ParameterDefinition>>();
  const load: CustomParameterLoad = { installed: [], rejected: [], byType };
  for (const parameter of stored) {
    if (parameter.status !== 'active') continue;
    // A copy of an official definition changes nothing.
    if (parameter.url?.startsWith('http://hl7.org/fhir/SearchParameter/')) continue;
    const reject = (reason: string) => load.rejected.push({ id: `SearchParameter/${parameter.id}`, reason });
    for (const base of parameter.base ?? []) {
      if (!isResourceType(base)) {
        reject(`base ${base} is not a resource type`);
        continue;
      }
      if (officialParameter(base, parameter.code)) {
        reject(`${base} already has the R4 parameter "${parameter.code}"`);
        continue;
      }
      if (!/^[a-z][a-z0-9-]*$/.test(parameter.code ?? '')) {
        reject(`code "${parameter.code}" must be lower case letters, digits and '-'`);
        continue;
      }
      const definition = parameterDefinition(base, parameter);
      if (typeof definition === 'string') {
        reject(definition);
        continue;
      }
      if (!byType.has(base)) byType.set(base, new Map());
      byType.get(base)?.set(definition.code, definition);
      load.installed.push({ type: base, code: definition.code });
    }
  }
  return load;
}
