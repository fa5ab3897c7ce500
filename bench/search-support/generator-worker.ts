// A worker thread that turns numbered ranges of the generated Patients and Observations into the
// rows Kiln stores (stored-rows.ts), so that generating and indexing the next batch runs on
// another core while Postgres writes the current one. A sample of the resources is validated with
// Kiln's own validator; every one of them is indexed with Kiln's own indexValues.
import { randomUUID } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import type { Resource } from '@medplum/fhirtypes';
import { loadValidation, validationErrors } from '../../resources/validate.js';
import { observations, patients, RARE_CODE, type PatientSeed } from './generate.js';
import { storedRows, type RowBatch } from './stored-rows.js';

export interface GeneratorInit {
  seed: number;
  patientCount: number;
  /** Validate one resource in this many (and every resource with a rare code). */
  validateEvery: number;
  /** The server's FHIR base URL, against which the rows' patient compartments are worked out. */
  baseUrl: string;
}

export type GeneratorRequest = { id: number; kind: 'Patient' | 'Observation'; from: number; to: number };
export type GeneratorReply =
  | { id: number; batch: RowBatch; validated: number; invalid: string[] }
  | { id: number; error: string };

function invalidIn(resources: Resource[], from: number, every: number, always: (r: Resource) => boolean): { validated: number; invalid: string[] } {
  let validated = 0;
  const invalid: string[] = [];
  resources.forEach((resource, i) => {
    if ((from + i) % every !== 0 && !always(resource)) return;
    validated++;
    const errors = validationErrors(resource);
    if (errors.length) invalid.push(`${resource.resourceType} #${from + i}: ${errors.map((e) => e.details?.text ?? e.diagnostics ?? e.code).join('; ')}`);
  });
  return { validated, invalid };
}

if (parentPort) {
  const port = parentPort;
  const init = workerData as GeneratorInit;
  loadValidation();
  const everyone = patients(init.seed, init.patientCount);
  const seeds: PatientSeed[] = everyone.map((p) => p.seed);
  const rare = (r: Resource) => r.resourceType === 'Observation' && r.code?.coding?.[0]?.code === RARE_CODE;
  port.on('message', (request: GeneratorRequest) => {
    try {
      let resources: Resource[];
      let ids: string[];
      if (request.kind === 'Patient') {
        const slice = everyone.slice(request.from, request.to);
        resources = slice.map((p) => p.resource);
        ids = slice.map((p) => p.seed.id);
      } else {
        resources = observations(init.seed, seeds, request.from, request.to);
        // Ids as Kiln's create makes them.
        ids = resources.map(() => randomUUID());
      }
      const every = request.kind === 'Patient' ? 1 : init.validateEvery;
      const { validated, invalid } = invalidIn(resources, request.from, every, rare);
      const batch = storedRows(request.kind, resources, ids, new Date(), init.baseUrl);
      const reply: GeneratorReply = { id: request.id, batch, validated, invalid: invalid.slice(0, 5) };
      port.postMessage(reply);
    } catch (error) {
      port.postMessage({ id: request.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies GeneratorReply);
    }
  });
}

