// Where `kiln import` sends its Bundles: the interaction layer of this process, on the database
// the environment configures (the default), or a running Kiln over HTTP (`--url`).
import type { Bundle } from '@medplum/fhirtypes';
import { batch } from '../../fhir/bundle/batch.js';
import { postedBundle, transaction } from '../../fhir/bundle/transaction.js';
import type { FhirContext } from '../../fhir/context.js';
import { FhirError } from '../../fhir/errors.js';

/** A Bundle's answer: the response Bundle, or the status and outcome that refused it whole. */
export type SinkAnswer = { ok: true; bundle: Bundle } | { ok: false; status: number; message: string };

export interface Sink {
  send(bundle: Record<string, unknown>, text?: string): Promise<SinkAnswer>;
  close(): Promise<void>;
}

export function localSink(ctx: FhirContext, close: () => Promise<void>): Sink {
  return {
    async send(bundle, text) {
      try {
        if (bundle.type === 'transaction') {
          // A transaction that runs again needs the entries as read, not as the first run rewrote them.
          const pristine = text ?? JSON.stringify(bundle);
          return { ok: true, bundle: await transaction(ctx, postedBundle(bundle, () => JSON.parse(pristine)), 'minimal') };
        }
        return { ok: true, bundle: await batch(ctx, bundle, 'minimal') };
      } catch (error) {
        if (error instanceof FhirError) return { ok: false, status: error.status, message: error.message };
        throw error;
      }
    },
    close,
  };
}

/** `token`: a bearer token for a Kiln with authorization on (KILN_TOKEN). */
export function httpSink(fhirBase: string, token?: string): Sink {
  const url = fhirBase.replace(/\/+$/, '');
  return {
    async send(bundle) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', prefer: 'return=minimal', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(bundle),
      });
      const body = (await response.json().catch(() => undefined)) as (Bundle & { issue?: { details?: { text?: string }; diagnostics?: string }[] }) | undefined;
      if (response.ok && body?.resourceType === 'Bundle') return { ok: true, bundle: body };
      const message = body?.issue?.map((i) => i.details?.text ?? i.diagnostics).join('; ') || response.statusText;
      return { ok: false, status: response.status, message };
    },
    close: async () => undefined,
  };
}
