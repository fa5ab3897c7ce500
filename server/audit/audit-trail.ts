// Every authorised read and write of data records an AuditEvent (hl7.org/fhir/R4/auditevent.html):
// who (the user's fhirUser and the client app), what (the resource and version, or the search),
// when, from where (the caller's address), and the outcome. A write's AuditEvent is stored in the
// write's own transaction, so one never exists without the other. A read is first appended to this
// process's journal, before it is answered, and gathered with others into an AuditEvent stored
// moments later; the journal segment goes once that is stored. A segment left behind (the store
// failed, or the process died) is replayed by a later sweep of any process, and an AuditEvent
// keeps the id it was given in the journal, so a replay never stores one twice.
import type { AuditEvent, AuditEventAgent, AuditEventEntity } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Access } from '../fhir/context.js';
import { storeNewResource, storeVersion } from '../fhir/version-write.js';
import type { Logger } from '../logger.js';
import type { Database, Queryable } from '../store/database.js';
import { existingIds } from '../store/resource-store.js';
import { ReadJournal, type Segment } from './read-journal.js';

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

/** The part of an Access an AuditEvent records. */
type Caller = Pick<Access, 'role' | 'fhirUser' | 'clientId' | 'subject' | 'address'>;

/** One journal line: the AuditEvent it belongs to, when, what; the first line of an event also names the caller and interaction. */
interface JournalRecord {
  e: string;
  t: number;
  w: AuditedWhat;
  c?: Caller;
  i?: AuditedInteraction;
}

/** Reads by one caller are gathered for at most this long, or this many resources, into one AuditEvent. */
const READ_WINDOW_MS = 100;
const READ_MAX_ENTITIES = 200;
/** How often segments nobody is storing are looked for and replayed. */
const SWEEP_MS = 10_000;

interface ReadBatch {
  id: string;
  caller: Caller;
  interaction: AuditedInteraction;
  what: AuditedWhat[];
  start: number;
  end: number;
}

export class AuditTrail {
  private readonly journal: ReadJournal;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly batches = new Map<string, ReadBatch>();
  /** The stores of the AuditEvents made of the current segment so far. */
  private stores: Promise<boolean>[] = [];
  private tick: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    journalDir: string,
    /** This server's base URL, which every stored version needs for its patient compartment. */
    private readonly baseUrl: string,
  ) {
    this.journal = new ReadJournal(journalDir);
  }

  /** Replays what earlier processes left in the journal, then keeps looking every few seconds. */
  async start(): Promise<void> {
    await this.sweep();
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** Stores the AuditEvent of a write inside the write's transaction. */
  async written(tx: Queryable, access: Access, interaction: AuditedInteraction, reference: string): Promise<void> {
    const event = auditEvent(access, interaction, [{ reference }]);
    await storeVersion(tx, { resource: event, id: event.id as string, versionId: 1, isNew: true, method: 'POST', url: 'AuditEvent', baseUrl: this.baseUrl });
  }

  /**
   * Records a read: in the journal at once, then in an AuditEvent. The reads of one caller (user,
   * app, address) of one kind within 100 ms make one AuditEvent that lists every resource or
   * search, with the period they happened in: the same facts, at a cost a busy server can carry.
   */
  read(access: Access, interaction: AuditedInteraction, what: AuditedWhat): void {
    const key = [access.subject, access.clientId, access.address ?? '', interaction].join('\u001f');
    const now = Date.now();
    let batch = this.batches.get(key);
    const opened = !batch;
    if (!batch) {
      const { role, fhirUser, clientId, subject, address } = access;
      batch = { id: randomUUID(), caller: { role, fhirUser, clientId, subject, address }, interaction, what: [], start: now, end: now };
      this.batches.set(key, batch);
    }
    this.journal.append(opened ? { e: batch.id, t: now, w: what, c: batch.caller, i: interaction } : { e: batch.id, t: now, w: what });
    batch.what.push(what);
    batch.end = now;
    if (batch.what.length >= READ_MAX_ENTITIES) this.close(key, batch);
    this.tick ??= setTimeout(() => this.endSegment(), READ_WINDOW_MS);
  }

  private close(key: string, batch: ReadBatch): void {
    this.batches.delete(key);
    const event = auditEvent(batch.caller, batch.interaction, batch.what, periodOf(batch.start, batch.end), batch.id);
    this.stores.push(this.track(this.store([event])));
  }

  /** Closes every open AuditEvent and the segment that holds their reads; the segment goes once they are stored. */
  private endSegment(): void {
    clearTimeout(this.tick);
    this.tick = undefined;
    for (const [key, batch] of [...this.batches]) this.close(key, batch);
    const segment = this.journal.rotate();
    const stores = this.stores;
    this.stores = [];
    if (segment) this.track(Promise.all(stores).then((stored) => this.settle(segment, stored.every(Boolean))));
  }

  private settle(segment: Segment, stored: boolean): void {
    if (stored) this.journal.release(segment);
    else this.journal.abandon(segment);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
    return work;
  }

  /** Stores AuditEvents (concurrent ones share one statement and one commit); false when that failed. */
  private async store(events: AuditEvent[]): Promise<boolean> {
    try {
      await Promise.all(
        events.map((event) => storeNewResource(this.db, { resource: event, id: event.id as string, versionId: 1, isNew: true, method: 'POST', url: 'AuditEvent', baseUrl: this.baseUrl })),
      );
      return true;
    } catch (error) {
      this.logger.warn({ err: error }, 'could not store AuditEvents of reads; they stay in the journal and are tried again');
      return false;
    }
  }

  /** Replays every segment no process is storing: the AuditEvents not stored yet, with the ids they were given. */
  private async sweep(): Promise<void> {
    const work = (async () => {
      for (const segment of this.journal.claimAbandoned()) {
        const events = eventsOfSegment(readFileSync(segment.path, 'utf8'));
        const ids = events.map((event) => event.id as string);
        // AuditEvents are never deleted, so an id present means that event was stored before the process died.
        const storedAlready = ids.length ? await existingIds(this.db, 'AuditEvent', ids).catch(() => undefined) : new Set<string>();
        const stored = storedAlready !== undefined && (await this.store(events.filter((event) => !storedAlready.has(event.id as string))));
        if (stored && events.length) this.logger.info({ auditEvents: events.length }, 'replayed AuditEvents of reads from the journal');
        this.settle(segment, stored);
      }
    })().catch((error: unknown) => this.logger.error({ err: error }, 'could not replay the audit journal'));
    await this.track(work);
  }

  /** Stores every read still gathered or queued (shutdown); what cannot be stored stays in the journal. */
  async flush(): Promise<void> {
    clearInterval(this.sweeper);
    this.endSegment();
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }
}

const periodOf = (start: number, end: number) => ({ start: new Date(start).toISOString(), end: new Date(end).toISOString() });

/** The AuditEvents a journal segment describes; a line cut short by a crash is skipped (its read was never answered). */
export function eventsOfSegment(text: string): AuditEvent[] {
  const batches = new Map<string, ReadBatch>();
  for (const line of text.split('\n')) {
    let record: JournalRecord;
    try {
      record = JSON.parse(line) as JournalRecord;
    } catch {
      continue;
    }
    let batch = batches.get(record.e);
    if (!batch && record.c && record.i) {
      batch = { id: record.e, caller: record.c, interaction: record.i, what: [], start: record.t, end: record.t };
      batches.set(record.e, batch);
    }
    if (!batch) continue;
    batch.what.push(record.w);
    batch.end = record.t;
  }
  return [...batches.values()].map((batch) => auditEvent(batch.caller, batch.interaction, batch.what, periodOf(batch.start, batch.end), batch.id));
}

export function auditEvent(
  access: Caller,
  interaction: AuditedInteraction,
  what: AuditedWhat[],
  period?: { start: string; end: string },
  id: string = randomUUID(),
): AuditEvent {
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
    id,
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
