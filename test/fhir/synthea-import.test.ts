// Real-world transaction Bundles: every Synthea patient record in ../shared/data imports without
// error, and each patient's $everything afterwards returns every resource of its record.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { loadDefinitions } from '../../resources/definitions.js';
import { compartment } from '../../resources/compartments.js';
import { sharedData } from '../support/shared-data.js';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/test-server.js';

const DATA = sharedData('synthea-r4');
const files = readdirSync(DATA).filter((name) => name.endsWith('.json')).sort();

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
  loadDefinitions();
});
afterAll(() => kiln.stop());

/** Every `Type/id` of a patient's $everything, following next links to the end. */
async function everything(patientId: string): Promise<string[]> {
  const found: string[] = [];
  let url: string | undefined = `/fhir/Patient/${patientId}/$everything?_count=500`;
  while (url) {
    const res = await request(kiln.server).get(url);
    expect(res.status).toBe(200);
    for (const entry of res.body.entry ?? []) found.push(`${entry.resource.resourceType}/${entry.resource.id}`);
    const next: string | undefined = res.body.link?.find((l: { relation: string }) => l.relation === 'next')?.url;
    url = next?.slice(next.indexOf('/fhir/'));
  }
  return found;
}

it(`imports all ${files.length} Synthea records as transactions; $everything returns each patient's whole record`, async () => {
  const inCompartment = compartment('Patient')?.members as Map<string, string[]>;
  let resources = 0;
  for (const name of files) {
    const text = readFileSync(join(DATA, name), 'utf8');
    const bundle = JSON.parse(text) as { entry: { resource: { resourceType: string } }[] };
    const res = await request(kiln.server).post('/fhir').set('Content-Type', FHIR_JSON).set('Prefer', 'return=minimal').send(text);
    expect([name, res.status, res.status === 200 ? '' : JSON.stringify(res.body).slice(0, 500)]).toEqual([name, 200, '']);
    expect(res.body.entry).toHaveLength(bundle.entry.length);
    const written = res.body.entry.map((e: { response: { status: string; location: string } }) => {
      expect(e.response.status).toBe('201 Created');
      return e.response.location.replace(/\/_history\/.*$/, '');
    }) as string[];
    resources += written.length;

    const patient = written.find((location) => location.startsWith('Patient/')) as string;
    const record = written.filter((location, i) => location === patient || inCompartment.has(bundle.entry[i].resource.resourceType));
    expect((await everything(patient.split('/')[1])).sort()).toEqual(record.sort());
  }
  expect(resources).toBe(18319);
}, 900_000);
