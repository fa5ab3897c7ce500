// The search conditions the FHIR layer builds and the store turns into SQL. Column names come
// from the search-parameter registry; every value is a bind parameter.

/** A column of the resource table: a search column, or one of the row's own. */
export type Column =
  | { search: string }
  | { row: 'id' | 'last_updated' | 'patient_compartment' }
  /** A field of one item of a composite parameter's jsonb column (alias `e`). */
  | { element: string; field: string; sqlType: 'text[]' | 'numeric' | 'timestamptz' };

export type Condition =
  | { kind: 'overlap'; column: Column; keys: string[] }
  | { kind: 'like-any'; column: Column; patterns: string[] }
  /** Some element of the column is a prefix of one of the values (uri :above). */
  | { kind: 'prefix-of-any'; column: Column; values: string[] }
  | { kind: 'compare'; column: Column; op: '<' | '<=' | '>' | '>=' | '='; value: Date | number | string }
  | { kind: 'missing'; column: Column; missing: boolean }
  | { kind: 'in'; column: Column; values: string[] }
  | { kind: 'and' | 'or'; conditions: Condition[] }
  /** True where the inner condition is false or unknown (no value at all). */
  | { kind: 'not'; condition: Condition }
  /** Rows of another type whose reference column points at this row (reverse chaining, _has). */
  | { kind: 'referenced-by'; resourceType: string; referenceColumn: string; targetType: string; baseUrl: string; where: Condition }
  /** This row's reference column points at a row of another type that matches (chaining). */
  /** References are stored relative (`Type/id`) or, when written so, absolute under `baseUrl`. */
  | { kind: 'references'; column: Column; resourceType: string; baseUrl: string; where: Condition }
  /** Within `kilometres` of a point, by great-circle distance (Location near). */
  | { kind: 'near'; latitude: Column; longitude: Column; point: { latitude: number; longitude: number }; kilometres: number }
  /** Words of the whole resource (`_content`) or of its narrative (`_text`), as a web search query. */
  | { kind: 'full-text'; target: 'content' | 'narrative'; query: string }
  /** This row is an item of the given List (`_list`), a List that also satisfies `where` when given. */
  | { kind: 'listed-in'; listId: string; resourceType: string; baseUrl: string; where?: Condition }
  /** No row: what a caller searches when it may see nothing of a type. */
  | { kind: 'none' }
  /** Some item of a composite column satisfies all of `where` (evaluated on that one item). */
  | { kind: 'any-item'; column: string; containing?: unknown; where: Condition };

/** One `_sort` key: a scalar column, or the least element of an array column. */
export type SortExpression = { column: Column; descending: boolean; array: boolean; sqlType: 'text' | 'timestamptz' | 'numeric' };

export const and = (conditions: Condition[]): Condition => (conditions.length === 1 ? conditions[0] : { kind: 'and', conditions });
export const or = (conditions: Condition[]): Condition => (conditions.length === 1 ? conditions[0] : { kind: 'or', conditions });
