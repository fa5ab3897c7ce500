// A criteria subscription matches exactly what a search with the same criteria finds: the same
// data written once, each criteria run both ways, the two sets compared. Token, reference, chain,
// reverse chain, date, quantity, string, :missing and :not, across several types.
import type { Bundle, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { FHIR_JSON, json, uniqueId, type TestServer } from '../support/test-server.js';
import { eventually, withNotifyingKiln, type Receiver, FEED_WAIT_MS } from './receiver.js';

let kiln: TestServer;
let receiver: Receiver;
withNotifyingKiln((started, listening) => {
  kiln = started;
  receiver = listening;
});

const post = async (body: Resource) => {
  const answer = await request(kiln.server).post(`/fhir/${body.resourceType}`).set('Content-Type', FHIR_JSON).send(json(body));
  expect(answer.status).toBe(201);
  return answer.body as Resource & { id: string };
};

it('notifies exactly what the same criteria find as a search', async () => {
  const family = uniqueId('Parity');
  // The patients first: the criteria name them.
  const ann = await post({ resourceType: 'Patient', name: [{ family, given: ['Ann'] }], gender: 'female', birthDate: '1980-02-03' });
  const bob = await post({ resourceType: 'Patient', name: [{ family, given: ['Bob'] }], gender: 'male' });
  const marker = uniqueId('code');
  const criteria = [
    `Observation?code=http://loinc.org|${marker}`,
    `Observation?code=${marker}&subject=Patient/${ann.id}`,
    `Observation?code=${marker}&subject:Patient.given=Bob`,
    `Observation?code=${marker}&value-quantity=gt70`,
    `Observation?code=${marker}&date=ge2021-01-01&date=lt2022-01-01`,
    `Observation?code=${marker}&status:not=final`,
    `Observation?code=${marker}&value-quantity:missing=true`,
    `Observation?code=${marker}&subject:Patient.gender=female`,
    `Patient?family=${family}&gender=male`,
    `Patient?family=${family}&birthdate:missing=false`,
    `Patient?family=${family}&_has:Observation:subject:value-quantity=gt90`,
  ];
  const path = (i: number) => `/hook/${marker}-${i}`;
  const ids = [];
  for (const [i, c] of criteria.entries()) {
    const created = await request(kiln.server)
      .post('/fhir/Subscription')
      .set('Content-Type', FHIR_JSON)
      .send(json({ resourceType: 'Subscription', status: 'requested', reason: 'parity', criteria: c, channel: { type: 'rest-hook', endpoint: `${receiver.url.replace('/hook', '')}${path(i)}`, payload: 'application/fhir+json' } }));
    expect([c, created.status]).toEqual([c, 201]);
    ids.push(created.body.id as string);
  }
  for (const id of ids) await eventually(async () => (await request(kiln.server).get(`/fhir/Subscription/${id}`)).body.status === 'active', FEED_WAIT_MS, 'active');

  const observation = (patient: string, value: number | undefined, date: string, status = 'final'): Resource => ({
    resourceType: 'Observation',
    status: status as 'final',
    code: { coding: [{ system: 'http://loinc.org', code: marker }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: date,
    ...(value === undefined ? {} : { valueQuantity: { value, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' } }),
  });
  await post(observation(ann.id, 65, '2021-03-01'));
  await post(observation(ann.id, 95, '2020-03-01'));
  await post(observation(bob.id, 75, '2021-06-01', 'preliminary'));
  await post(observation(bob.id, undefined, '2022-06-01', 'amended'));
  // A Patient written after its Observations, so reverse chaining has something to find.
  const cy = await post({ resourceType: 'Patient', name: [{ family, given: ['Cy'] }], gender: 'male', birthDate: '1990-01-01' });
  await post(observation(cy.id, 99, '2021-01-02'));
  // Updating Cy, with an Observation over 90 now stored, makes the _has criteria match.
  const cyNow = (await request(kiln.server).get(`/fhir/Patient/${cy.id}`)).body as Resource;
  await request(kiln.server).put(`/fhir/Patient/${cy.id}`).set('Content-Type', FHIR_JSON).send(json({ ...cyNow, active: true }));

  // Ann and Bob were written before the subscriptions: a new version of each, once their
  // Observations exist, is what the subscriptions see (a chain or _has is judged on the data as it
  // is when the change is matched).
  for (const patient of [ann, bob]) {
    await request(kiln.server).put(`/fhir/Patient/${patient.id}`).set('Content-Type', FHIR_JSON).send(json({ ...patient, meta: undefined, active: true }));
  }
  // Settled: the consumer has read every change written above.
  const marker2 = await post({ resourceType: 'Patient', name: [{ family: uniqueId('settle') }] });
  const settle = await request(kiln.server)
    .post('/fhir/Subscription')
    .set('Content-Type', FHIR_JSON)
    .send(json({ resourceType: 'Subscription', status: 'requested', reason: 'settle', criteria: `Patient?_id=${marker2.id}`, channel: { type: 'rest-hook', endpoint: `${receiver.url.replace('/hook', '')}/hook/${marker}-settle` } }));
  await eventually(async () => (await request(kiln.server).get(`/fhir/Subscription/${settle.body.id}`)).body.status === 'active', FEED_WAIT_MS, 'settled');
  await new Promise((resolve) => setTimeout(resolve, 1000));

  for (const [i, c] of criteria.entries()) {
    const notifiedIds = () => new Set(receiver.received.filter((r) => r.path === path(i) && r.body !== '').map((r) => (JSON.parse(r.body) as Resource).id));
    const found = (await request(kiln.server).get(`/fhir/${c}&_count=100`)).body as Bundle;
    const searched = [...new Set((found.entry ?? []).map((e) => e.resource?.id))].sort();
    // Every resource the search finds was notified (delivery may still be on its way)…
    await eventually(async () => searched.every((id) => notifiedIds().has(id)), FEED_WAIT_MS, `the notifications of ${c}`).catch(() => undefined);
    expect([c, searched]).toEqual([c, searched.filter((id) => notifiedIds().has(id))]);
    // …and nothing else was: a resource notified matched these criteria in the version it was notified for,
    // and none of this data stops matching later.
    expect([c, [...notifiedIds()].filter((id) => !searched.includes(id))]).toEqual([c, []]);
  }
});
