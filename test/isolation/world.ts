// The world the isolation matrix runs in: a Kiln with authorization on, two patients A and B,
// every fixture of every type for each of them (and one that belongs to no patient), and the kinds
// of caller confined to A, each with a token obtained through the real sign-in.
import type { Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import type { AddressInfo } from 'node:net';
import { create } from '../../server/fhir/interactions/create.js';
import { newClient, newUser, signIn, startAuthServer } from '../auth/support.js';
import type { TestServer } from '../support/test-server.js';
import { fixtureCases, type FixtureCase } from './fixture-cases.js';
import { instanceFor } from './instances.js';
import { createSupportResources } from './support-setup.js';

export interface Stored {
  label: string;
  type: string;
  /** The link parameter that ties it to its patient; undefined for a Patient and for no-patient instances. */
  link?: string;
  id: string;
  /** The resource as stored. */
  resource: Resource;
}

/** Whether a stored fixture holds a contained resource (every DomainResource fixture does). */
export const holdsContained = (stored: Stored): boolean => Array.isArray((stored.resource as { contained?: unknown[] }).contained);

export interface Caller {
  name: string;
  token: string;
}

export interface World {
  kiln: TestServer & { origin: string };
  /** Every word that marks content: A's, B's, and one no resource carries. */
  markers: { a: string; b: string; none: string; unowned: string };
  patients: { a: string; b: string };
  /** A's resources (its Patient included). */
  own: Stored[];
  /** B's resources (its Patient included), which no caller confined to A may see, name or infer. */
  others: Stored[];
  /** Resources that belong to no patient. */
  unowned: Stored[];
  callers: Caller[];
  /** When the fixtures were written: history probes look no further back. */
  since: string;
}

const NOT_DOMAIN_RESOURCES = new Set(['Binary', 'Bundle', 'Parameters']);
const CONTAINED_ID = 'isolation-contained';

/** A contained Basic marked like its container, referred to from an extension (dom-3). */
function withContained(resource: Resource, marker: string): Resource {
  if (NOT_DOMAIN_RESOURCES.has(resource.resourceType)) return resource;
  const json = resource as Resource & { contained?: unknown[]; extension?: unknown[] };
  return {
    ...json,
    contained: [{ resourceType: 'Basic', id: CONTAINED_ID, code: { text: `contained ${marker}` } }],
    extension: [...(json.extension ?? []), { url: 'http://example.org/fhir/StructureDefinition/isolation-contained', valueReference: { reference: `#${CONTAINED_ID}` } }],
  } as Resource;
}

function runMarker(which: string): string {
  return `kiln${which}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

async function store(kiln: TestServer, fixture: FixtureCase, patient: string, marker: string): Promise<Stored> {
  const resource = withContained({ ...fixture.build(patient), id: undefined } as Resource, marker);
  const written = await create(kiln.ctx, resource);
  return { label: fixture.label, type: fixture.type, link: fixture.link?.parameter, id: written.id, resource: JSON.parse(written.content) as Resource };
}

async function patientNamed(kiln: TestServer, label: string, marker: string): Promise<Stored> {
  const patient = instanceFor('Patient', { patient: 'unused' }, undefined, marker);
  const written = await create(kiln.ctx, { ...patient, id: undefined, name: [{ family: marker }] } as Resource);
  return { label, type: 'Patient', id: written.id, resource: JSON.parse(written.content) as Resource };
}

export async function buildWorld(): Promise<World> {
  // No rate limit: the matrix sends tens of thousands of requests a minute from one address.
  const kiln = await startAuthServer({ KILN_RATE_LIMIT_PER_MINUTE: '0' });
  const since = new Date(Date.now() - 1000).toISOString();
  const markers = { a: runMarker('marka'), b: runMarker('markb'), none: runMarker('marknone'), unowned: runMarker('markunowned') };
  await createSupportResources(kiln.ctx);
  const [patientA, patientB] = [await patientNamed(kiln, 'Patient A', markers.a), await patientNamed(kiln, 'Patient B', markers.b)];
  const patients = { a: patientA.id, b: patientB.id };
  const own: Stored[] = [patientA];
  const others: Stored[] = [patientB];
  const unowned: Stored[] = [];
  for (const fixture of fixtureCases(markers.unowned)) {
    if (!fixture.link) {
      // A Patient always belongs to someone: the one without a link is a third patient, not A.
      if (fixture.type === 'Patient') others.push(await patientNamed(kiln, 'Patient C', markers.b));
      else unowned.push(await store(kiln, fixture, '', markers.unowned));
      continue;
    }
    const marked = (marker: string): FixtureCase => ({ ...fixture, build: (patient) => instanceFor(fixture.type, { patient }, fixture.link, marker) });
    own.push(await store(kiln, marked(markers.a), patients.a, markers.a));
    others.push(await store(kiln, marked(markers.b), patients.b, markers.b));
  }
  return { kiln, markers, patients, own, others, unowned, callers: await signInCallers(kiln, patients.a), since };
}

/** The callers confined to patient A, one of each kind SMART and Kiln's roles make. */
async function signInCallers(kiln: World['kiln'], patient: string): Promise<Caller[]> {
  const filter = 'patient/*.rs?_lastUpdated=gt2000-01-01';
  const { client } = await newClient(kiln, { scope: `launch launch/patient openid fhirUser patient/*.cruds user/*.cruds ${filter}` });
  const patientUser = await newUser(kiln, 'patient', `Patient/${patient}`);
  const practitioner = await newUser(kiln, 'practitioner', `Practitioner/isolation-support-Practitioner`);
  const admin = await newUser(kiln, 'admin');
  const adminToken = await signIn(kiln, { clientId: client.clientId, scope: 'user/*.cruds', username: admin.username });
  const launch = async () => (await request(kiln.server).post('/admin/launch').set('Authorization', `Bearer ${adminToken.access_token}`).send({ patient })).body.launch as string;
  const sign = async (name: string, username: string, scope: string, withLaunch: boolean) => ({
    name,
    token: (await signIn(kiln, { clientId: client.clientId, scope, username, ...(withLaunch ? { launch: await launch() } : {}) })).access_token,
  });
  return [
    await sign('patient user, patient/ scopes', patientUser.username, 'launch/patient patient/*.cruds', false),
    await sign('patient user, user/ scopes', patientUser.username, 'user/*.cruds', false),
    await sign('practitioner, EHR launch, patient/ scopes', practitioner.username, 'launch patient/*.cruds', true),
    // A filter every resource meets: what a filtered scope adds must hide nothing of A's, and show nothing of B's.
    await sign('practitioner, EHR launch, v2 filtered scope', practitioner.username, `launch ${filter} patient/*.cud`, true),
  ];
}

export function address(world: World): string {
  return `http://127.0.0.1:${(world.kiln.server.address() as AddressInfo).port}`;
}

