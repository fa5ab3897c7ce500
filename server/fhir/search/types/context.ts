// What every search-parameter type needs to turn a request value into a condition.
import type { ParameterDefinition } from '../../../../resources/search/parameters.js';
import type { Column } from '../../../store/search/condition.js';

export interface CriterionInput {
  resourceType: string;
  /** The parameter as written, for messages. */
  name: string;
  parameter: ParameterDefinition;
  modifier?: string;
  /** The comma-separated values, escapes still in place. */
  values: string[];
  baseUrl: string;
  /** Where a column of this parameter is: the resource table, or one item of a composite. */
  column: (name: string, sqlType: 'text[]' | 'numeric' | 'timestamptz') => Column;
}

export const tableColumn = (name: string): Column => ({ search: name });
