// FHIR R4 canonical references (hl7.org/fhir/R4/references.html#canonical): `url|version`.

/**
 * The canonical URL without its `|version` suffix: ValueSet.url and CodeSystem.url carry no
 * version, while the R4 bindings point at `...|4.0.1`.
 */
export function unversionedUrl(canonical: string): string {
  const bar = canonical.indexOf('|');
  return bar === -1 ? canonical : canonical.slice(0, bar);
}

/** The version a canonical reference pins, if any. */
export function pinnedVersion(canonical: string): string | undefined {
  const bar = canonical.indexOf('|');
  return bar === -1 ? undefined : canonical.slice(bar + 1);
}
