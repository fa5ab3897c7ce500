// FHIR R4 §3.1.1 search (hl7.org/fhir/R4/search.html): the indexed search columns of each
// resource table, computed on every write from the official SearchParameter expressions.
import { evalFhirPathTyped, getExpressionForResourceType, getSearchParameter, toTypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { tokenKeys } from './token-values.js';

export interface SearchColumn {
  /** The search parameter code, also the column name. */
  readonly code: string;
  readonly sqlType: 'text[]';
  readonly extract: (resource: Resource) => string[] | null;
}

/** Token parameters indexed so far; each becomes a text[] column with a GIN index. */
const INDEXED_TOKEN_PARAMETERS = ['identifier'];

const cache = new Map<string, SearchColumn[]>();

export function searchColumns(resourceType: string): SearchColumn[] {
  let columns = cache.get(resourceType);
  if (!columns) {
    columns = [];
    for (const code of INDEXED_TOKEN_PARAMETERS) {
      const parameter = getSearchParameter(resourceType, code);
      if (!parameter?.expression || parameter.type !== 'token') continue;
      const expression = getExpressionForResourceType(resourceType, parameter.expression) ?? parameter.expression;
      columns.push({
        code,
        sqlType: 'text[]',
        extract: (resource) => {
          const keys = tokenKeys(evalFhirPathTyped(expression, [toTypedValue(resource)]));
          return keys.length ? keys : null;
        },
      });
    }
    cache.set(resourceType, columns);
  }
  return columns;
}

export function searchColumn(resourceType: string, code: string): SearchColumn | undefined {
  return searchColumns(resourceType).find((column) => column.code === code);
}
