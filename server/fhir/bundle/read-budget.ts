// FHIR R4 §3.1.0.11 batch and transaction (hl7.org/fhir/R4/http.html#transaction): one Bundle may
// carry thousands of reads and searches, each with includes. Every resource their answers hold is
// held in memory until the response is sent, so the Bundle's reads together answer with at most
// KILN_MAX_BATCH_RESULTS resources; a read entry past that answers 413 instead of running.
import { tooLarge } from '../errors.js';

export class ReadBudget {
  private used = 0;
  private exhausted = false;

  constructor(readonly limit: number) {}

  private refusal() {
    return tooLarge(`The read entries of this Bundle answer with more than ${this.limit} resources in all, the most one Bundle may (KILN_MAX_BATCH_RESULTS); this entry was not answered`);
  }

  /** Before a read entry runs: 413 once the Bundle's reads have used the budget up. */
  assertOpen(): void {
    if (this.exhausted || this.used >= this.limit) throw this.refusal();
  }

  /** After it ran: counts the resources its answer holds; 413 (and no answer) when they do not fit. */
  charge(resources: number): void {
    if (this.used + resources > this.limit) {
      this.exhausted = true;
      throw this.refusal();
    }
    this.used += resources;
  }
}
