// Every authorised read and write of data records an AuditEvent (hl7.org/fhir/R4/auditevent.html):
// who (the user's fhirUser and the client app), what (the resource and version, or the search),
// when, from where (the caller's address), and the outcome. A write's AuditEvent is stored in the
// write's own transaction, so one never exists without the other. A read's is queued and written
// moments later, together with others, retried until it is stored, and waited for at shutdown.
import type { AuditEvent, AuditEventAgent, AuditEventEntity } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import type { Access } from '../fhir/context.js';
import { storeNewResource, storeVersion } from '../fhir/version-write.js';
import type { Logger } from '../logger.js';
import type { Database, Queryable } from '../store/database.js';

export type AuditedInteraction = 'read' | 'vread' | 'history-instance' | 'history-type' | 'history-system' | 'search-type' | 'search-system' | 'operation' | 'create' | 'update' | 'patch' | 'delete';

const ACTION: Record<AuditedInteraction, AuditEvent['action']> = {
  read: 'R',
  vread: 'R',
  'history-instance': 'R',
  'history-type': 'R',
  'history-system': 'R',
  'search-type': 'E',
  'search-system': 'E',
  operation: 'E',
  create: 'C',
  update: 'U',
  patch: 'U',
  delete: 'D',
};

/** What was read or written: a resource (with its version when known), or a search. */
export type AuditedWhat = { reference: string } | { type?: string; query: string };

const RETRY_MS = [100, 500, 2000, 5000, 10000];

export class AuditTrail {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
  ) {}

  /** Stores the AuditEvent of a write inside the write's transaction. */
  async written(tx: Queryable, access: Access, interaction: AuditedInteraction, reference: string): Promise<void> {
    const event = auditEvent(access, interaction, { reference });
    await storeVersion(tx, { resource: event, id: event.id as string, versionId: 1, isNew: true, method: 'POST', url: 'AuditEvent' });
  }

  /** Queues the AuditEvent of a read; it is stored within moments, retried on failure. */
  read(access: Access, interaction: AuditedInteraction, what: AuditedWhat): void {
    const event = auditEvent(access, interaction, what);
    const stored = this.store(event, 0).finally(() => this.pending.delete(stored));
    this.pending.add(stored);
  }

  private async store(event: AuditEvent, attempt: number): Promise<void> {
    try {
      // Concurrent reads' AuditEvents share one statement and one commit.
      await storeNewResource(this.db, { resource: event, id: event.id as string, versionId: 1, isNew: true, method: 'POST', url: 'AuditEvent' });
    } catch (error) {
      if (attempt >= RETRY_MS.length) {
        // The last resort keeps the event in the log, whole, rather than dropping it.
        this.logger.error({ err: error, auditEvent: event }, 'could not store an AuditEvent; it is kept here');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS[attempt]));
      return this.store(event, attempt + 1);
    }
  }

  /** Waits for every queued AuditEvent (shutdown). */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }
}

export function auditEvent(access: Access, interaction: AuditedInteraction, what: AuditedWhat): AuditEvent {
  const agents: AuditEventAgent[] = [
    {
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'humanuser', display: 'human user' }] },
      who: access.fhirUser ? { reference: access.fhirUser } : { identifier: { system: 'urn:kiln:user', value: access.subject } },
      requestor: true,
      ...(access.address ? { network: { address: access.address, type: '2' as const } } : {}),
    },
    {
      type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' }] },
      who: { identifier: { system: 'urn:kiln:client', value: access.clientId } },
      requestor: false,
    },
  ];
  if (access.role === 'system') agents.shift();
  const entity: AuditEventEntity =
    'reference' in what
      ? { what: { reference: what.reference } }
      : { ...(what.type ? { what: { display: what.type } } : {}), query: Buffer.from(what.query).toString('base64') };
  return {
    resourceType: 'AuditEvent',
    id: randomUUID(),
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: interaction }],
    action: ACTION[interaction],
    recorded: new Date().toISOString(),
    outcome: '0',
    agent: agents.length ? agents : [{ who: { identifier: { system: 'urn:kiln:client', value: access.clientId } }, requestor: true }],
    source: { observer: { display: 'Kiln' }, type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }] },
    entity: [entity],
  };
}
