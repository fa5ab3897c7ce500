// Issue 10: patient data never crosses patients. A generated matrix: every resource type the
// CapabilityStatement lists, an instance belonging to patient A and one to patient B for each way
// the type links to a patient (and one belonging to no patient), every interaction and search form
// Kiln serves, and every kind of caller confined to A. Nothing of B's (nor of anything A may not
// see) is returned, named or inferable from the answers; A's own data still is.
import type { Bundle } from '@medplum/fhirtypes';
import { read } from '../../server/fhir/interactions/read.js';
import { isSharedReferenceType } from '../../server/fhir/confinement.js';
import { compartment } from '../../resources/compartments.js';
import { eachLimited, leakedIn, normalized, send, type Answer, type Forbidden, type HttpRequest } from './answers.js';
import { probesOfResource, probesOfServer, probesOfType, type Probe } from './probes.js';
import { address, buildWorld, holdsContained, type Caller, type World } from './world.js';

// The matrix sends tens of thousands of requests; each step may take minutes on a busy machine.
const LONG = 1_800_000;

let world: World;
let origin: string;
let forbidden: Forbidden;
const counts = { cases: 0, requests: 0, leaks: 0 };

beforeAll(async () => {
  world = await buildWorld();
  origin = address(world);
  const unseen = [...world.others, ...world.unowned.filter((u) => !isSharedReferenceType(u.type))];
  forbidden = { ids: new Set(unseen.map((s) => s.id)), markers: [world.markers.b] };
}, LONG);

afterAll(async () => {
  process.stdout.write(`\nIsolation matrix: ${counts.cases} cases, ${counts.requests} requests, ${counts.leaks} leaks\n`);
  await world?.kiln.stop();
});

/** B's resources and those of no patient that A may not see, each with the probes that name it. */
function resourceProbes(): Probe[] {
  const unseen = [...world.others, ...world.unowned.filter((u) => !isSharedReferenceType(u.type))];
  return unseen.flatMap(probesOfResource);
}

function typeProbes(): Probe[] {
  return [...new Set([...world.own, ...world.others, ...world.unowned].map((s) => s.type))].sort().flatMap((type) => probesOfType(world, type));
}

/** The next-page URL of a Bundle answer, as a request. */
function nextPage(answer: Answer): HttpRequest | undefined {
  if (answer.status !== 200) return undefined;
  const link = ((JSON.parse(answer.text) as Bundle).link ?? []).find((l) => l.relation === 'next')?.url;
  return link ? { method: 'GET', path: new URL(link).pathname + new URL(link).search } : undefined;
}

/**
 * Answers to control requests, by caller and request: a control names nothing that exists, so
 * asking it again would only repeat the answer (and changes nothing: it is refused or finds nothing).
 */
const controls = new Map<string, Promise<Answer>>();
function controlAnswer(caller: Caller, req: HttpRequest): Promise<Answer> {
  const key = `${caller.name} ${JSON.stringify(req)}`;
  let answer = controls.get(key);
  if (!answer) {
    answer = send(origin, caller.token, req);
    counts.requests++;
    controls.set(key, answer);
  }
  return answer;
}

/** Runs the probes as `caller`; each finding names the probe and what gave it away. */
async function findLeaks(caller: Caller, probes: Probe[]): Promise<string[]> {
  const findings: string[] = [];
  const markers = [world.markers.b, world.markers.none];
  await eachLimited(probes, 6, async (probe) => {
    counts.cases++;
    let req: HttpRequest | undefined = probe.request;
    for (let page = 0; req && page < 50; page++) {
      const answer = await send(origin, caller.token, req);
      counts.requests++;
      if (answer.status >= 500) findings.push(`${probe.label}: ${answer.status} ${answer.text.slice(0, 300)}`);
      const leaked = leakedIn(answer, req, forbidden);
      if (leaked.length) findings.push(`${probe.label}: the answer holds ${leaked.join(', ')}`);
      if (probe.control && page === 0) {
        const control = await controlAnswer(caller, probe.control);
        if (normalized(answer, markers) !== normalized(control, markers)) {
          findings.push(`${probe.label}: answers differently than about nothing:\n${normalized(answer, markers).slice(0, 600)}\n--- about nothing:\n${normalized(control, markers).slice(0, 600)}`);
        }
      }
      req = probe.pages ? nextPage(answer) : undefined;
    }
  });
  counts.leaks += findings.length;
  return findings;
}

async function bundleIds(caller: Caller, path: string): Promise<string[]> {
  const ids: string[] = [];
  let req: HttpRequest | undefined = { method: 'GET', path };
  while (req) {
    const answer = await send(origin, caller.token, req);
    expect([path, answer.status]).toEqual([path, 200]);
    ids.push(...((JSON.parse(answer.text) as Bundle).entry ?? []).map((e) => e.resource?.id ?? ''));
    req = nextPage(answer);
  }
  return ids;
}

/** What A's callers must still reach: A's resources by every path the probes closed to B's. */
async function missingOwnData(caller: Caller): Promise<string[]> {
  const missing: string[] = [];
  const readable = world.own.filter((s) => s.type !== 'AuditEvent');
  await eachLimited(readable, 6, async (own) => {
    const answer = await send(origin, caller.token, { method: 'GET', path: `/fhir/${own.type}/${own.id}` });
    if (answer.status !== 200) missing.push(`read ${own.label}: ${answer.status}`);
    const history = await send(origin, caller.token, { method: 'GET', path: `/fhir/${own.type}/${own.id}/_history` });
    if (history.status !== 200 || !history.text.includes(own.id)) missing.push(`history ${own.label}: ${history.status}`);
    if (own.link && own.type !== 'Binary') {
      const found = await bundleIds(caller, `/fhir/${own.type}?${own.link}=Patient/${world.patients.a}&_id=${own.id}`);
      if (!found.includes(own.id)) missing.push(`search ${own.label} by ${own.link}`);
    }
  });
  const everything = new Set(await bundleIds(caller, `/fhir/Patient/${world.patients.a}/$everything?_count=1000`));
  const members = readable.filter((s) => s.type === 'Patient' || compartment('Patient')?.members.has(s.type));
  for (const own of members) if (!everything.has(own.id)) missing.push(`$everything lacks ${own.label}`);
  const byContent = new Set(await bundleIds(caller, `/fhir/?_content=${world.markers.a}&_count=1000`));
  for (const own of readable.filter((s) => s.type !== 'Binary')) if (!byContent.has(own.id)) missing.push(`_content lacks ${own.label}`);
  const contained = await bundleIds(caller, `/fhir/Basic?_contained=true&_content=${world.markers.a}&_count=1000`);
  const containers = readable.filter(holdsContained);
  if (contained.length !== containers.length) missing.push(`contained resources: ${contained.length} of ${containers.length}`);
  for (const shared of world.unowned.filter((u) => isSharedReferenceType(u.type))) {
    const answer = await send(origin, caller.token, { method: 'GET', path: `/fhir/${shared.type}/${shared.id}` });
    if (answer.status !== 200) missing.push(`read shared ${shared.label}: ${answer.status}`);
  }
  return missing;
}

describe.each([0, 1, 2, 3])('caller %i confined to patient A', (index) => {
  let caller: Caller;
  beforeAll(() => {
    caller = world.callers[index];
  });

  it('learns nothing of resources it may not see, by any interaction on them', async () => {
    expect({ caller: caller.name, leaks: await findLeaks(caller, resourceProbes()) }).toEqual({ caller: caller.name, leaks: [] });
  }, LONG);

  it('learns nothing of them by any search, include, compartment, history or Bundle', async () => {
    expect({ caller: caller.name, leaks: await findLeaks(caller, [...typeProbes(), ...probesOfServer(world)]) }).toEqual({ caller: caller.name, leaks: [] });
  }, LONG);

  it("still reaches all of A's own data, and the shared reference data", async () => {
    expect({ caller: caller.name, missing: await missingOwnData(caller) }).toEqual({ caller: caller.name, missing: [] });
  }, LONG);
});

// Declared last, so it runs after every caller has tried to change them.
describe('after every caller', () => {
  it("left every resource of B's as it was", async () => {
    const changed: string[] = [];
    for (const other of world.others) {
      const stored = await read(world.kiln.ctx, other.type, other.id).catch((error: Error) => error);
      if (stored instanceof Error || stored.versionId !== 1) changed.push(`${other.label}: ${stored instanceof Error ? stored.message : `version ${stored.versionId}`}`);
    }
    expect(changed).toEqual([]);
  }, LONG);
});
