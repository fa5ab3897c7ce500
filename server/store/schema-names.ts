// The SQL names of Kiln's tables, search columns and their indexes. Identifiers reach SQL only
// through these checks, never from a request as text.

export function tableName(resourceType: string): string {
  if (!/^[A-Z][A-Za-z]+$/.test(resourceType)) throw new Error(`not a resource type: ${resourceType}`);
  return `"${resourceType}"`;
}

export function columnName(name: string): string {
  if (!/^_?[a-z][a-zA-Z0-9-]*(:[a-z]+)?$/.test(name)) throw new Error(`not a search column: ${name}`);
  return `"${name}"`;
}

/** The index of one search column (Postgres names are at most 63 bytes). */
export function searchIndexName(resourceType: string, column: string): string {
  return `"${`${resourceType}_${column}`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 63)}"`;
}
