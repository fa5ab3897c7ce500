// What every search-parameter type needs to turn a request value into a condition.
import type { ParameterDefinition } from '../../../../resources/search/parameters.js';

export interface CriterionInput {
  resourceType: string;
  /** The parameter as written, for messages. */
  name: string;
  parameter: ParameterDefinition;
  modifier?: string;
  /** The comma-separated values, escapes still in place. */
  values: string[];
  baseUrl: string;
}
