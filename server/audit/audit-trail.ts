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

/** Reads by one caller are gathered for at most this long, or this many resources, into one AuditEvent. */
const READ_WINDOW_MS = 100;
const READ_MAX_ENTITIES = 200;

interface ReadBatch {
  access: Access;
  interaction: AuditedInteraction;
  what: AuditedWhat[];
  start: Date;
  timer: NodeJS.Timeout;
}

export class AuditTrail {
  private readonly pending = new Set<Promise<void>>();
  private readonly batches = new Map<string, ReadBatch>();

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
  ) {}

  /** Stores the AuditEvent of a write inside the write's transaction. */
  async written(tx: Queryable, access: Access, interaction: AuditedInteraction, reference: string): Promise<void> {
    const event = auditEvent(access, interaction, [{ reference }]);
    await storeVersion(tx, { resource: event, id: event.id as string, versionId: 1, isNew: true, method: 'POST', url: 'AuditEvent' });
  }

  /**
   * Records a read. The reads of one caller (user, app, address) of one kind within 100 ms make
   * one AuditEvent that lists every resource or search, with the period they happened in: the
   * same facts, at a cost a busy server can carry. It is stored moments later and retried on failure.
   */
  read(access: Access, interaction: AuditedInteraction, what: AuditedWhat): void {
    const key = [access.subject, access.clientId, access.address ?? '', interaction].join('\u001f');
    let batch = this.batches.get(key);
    if (!batch) {
      batch = { access, interaction, what: [], start: new Date(), timer: setTimeout(() => this.close(key), READ_WINDOW_MS) };
      this.batches.set(key, batch);
    }
    batch.what.push(what);
    if (batch.what.length >= READ_MAX_ENTITIES) this.close(key);
  }

  private close(key: string): void {
    const batch = this.batches.get(key);
    if (!batch) return;
    this.batches.delete(key);
    clearTimeout(batch.timer);
    const event = auditEvent(batch.access, batch.interaction, batch.what, { start: batch.start.toISOString(), end: new Date().toISOString() });
    const stored = this.store(event, 0).finally(() => this.pending.delete(stored));
    this.pending.add(stored);
  }

  private async store(event: AuditEvent, attempt: number): Promise<void> {
    try {
      // Concurrent AuditEvents share one statement and one commit.
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

  /** Stores every read still gathered or queued (shutdown). */
  async flush(): Promise<void> {
    for (const key of [...this.batches.keys()]) this.close(key);
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }
}

export function auditEvent(access: Access, interaction: AuditedInteraction, what: AuditedWhat[], period?: { start: string; end: string }): AuditEvent {
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
  const entity = what.map(
    (w): AuditEventEntity =>
      'reference' in w ? { what: { reference: w.reference } } : { ...(w.type ? { what: { display: w.type } } : {}), query: Buffer.from(w.query).toString('base64') },
  );
  return {
    resourceType: 'AuditEvent',
    id: randomUUID(),
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: interaction }],
    action: ACTION[interaction],
    ...(period ? { period } : {}),
    recorded: new Date().toISOString(),
    outcome: '0',
    agent: agents.length ? agents : [{ who: { identifier: { system: 'urn:kiln:client', value: access.clientId } }, requestor: true }],
    source: { observer: { display: 'Kiln' }, type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }] },
    entity,
  };
}
