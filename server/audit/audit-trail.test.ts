import { eventsOfSegment } from './audit-trail.js';

const caller = { role: 'practitioner' as const, fhirUser: 'Practitioner/7', clientId: 'app-1', subject: 'user-1', address: '10.0.0.5' };

it('rebuilds from a journal segment each AuditEvent with the id, caller, reads and period it was given', () => {
  const segment = [
    { e: 'event-a', t: Date.parse('2026-01-01T10:00:00.000Z'), w: { reference: 'Patient/1/_history/2' }, c: caller, i: 'read' },
    { e: 'event-b', t: Date.parse('2026-01-01T10:00:00.010Z'), w: { type: 'Observation', query: 'Observation?code=x' }, c: { ...caller, address: undefined }, i: 'search-type' },
    { e: 'event-a', t: Date.parse('2026-01-01T10:00:00.050Z'), w: { reference: 'Patient/2/_history/1' } },
  ]
    .map((record) => JSON.stringify(record))
    .join('\n');
  // The process died while it wrote the last line: that read was never answered.
  const events = eventsOfSegment(`${segment}\n{"e":"event-a","t":17`);
  expect(events.map((event) => event.id)).toEqual(['event-a', 'event-b']);
  const [reads, search] = events;
  expect(reads.entity).toEqual([{ what: { reference: 'Patient/1/_history/2' } }, { what: { reference: 'Patient/2/_history/1' } }]);
  expect(reads.period).toEqual({ start: '2026-01-01T10:00:00.000Z', end: '2026-01-01T10:00:00.050Z' });
  expect(reads.subtype?.[0].code).toBe('read');
  expect(reads.agent[0]).toMatchObject({ who: { reference: 'Practitioner/7' }, network: { address: '10.0.0.5' } });
  expect(search.action).toBe('E');
  expect(search.entity?.[0]).toEqual({ what: { display: 'Observation' }, query: Buffer.from('Observation?code=x').toString('base64') });
});
