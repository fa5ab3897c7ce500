// The comparison point for the bulk load: Observations created one by one through Kiln's HTTP API
// (POST /fhir/Observation: validation, reference check, batched insert), from a few concurrent
// loops of plain fetch.
import type { Observation } from '@medplum/fhirtypes';

export interface ApiCreateResult {
  created: number;
  failed: number;
  firstFailure?: string;
  seconds: number;
}

export async function createThroughApi(fhirBase: string, resources: Observation[], concurrency: number): Promise<ApiCreateResult> {
  let next = 0;
  let created = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const started = performance.now();
  const loop = async () => {
    while (next < resources.length) {
      const body = JSON.stringify(resources[next++]);
      try {
        const response = await fetch(`${fhirBase}/Observation`, {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
          body,
          signal: AbortSignal.timeout(30_000),
        });
        const text = await response.text();
        if (response.status === 201) created++;
        else {
          failed++;
          firstFailure ??= `${response.status}: ${text.slice(0, 300)}`;
        }
      } catch (error) {
        failed++;
        firstFailure ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { created, failed, firstFailure, seconds: (performance.now() - started) / 1000 };
}
