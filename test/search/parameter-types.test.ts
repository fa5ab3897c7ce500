// Every search parameter type, its modifiers and prefixes: what matches and what must not.
// hl7.org/fhir/R4/search.html#ptypes
import { startTestServer, type TestServer } from '../support/test-server.js';
import { scope, type Scope } from './support.js';

let kiln: TestServer;
let s: Scope;
const ids: Record<string, string> = {};

beforeAll(async () => {
  kiln = await startTestServer();
  s = scope(kiln);
  ids.smith = (await s.create({ resourceType: 'Patient', name: [{ family: 'Smith', given: ['Anna'] }], gender: 'female', birthDate: '1975-03-02', identifier: [{ system: 'urn:mrn', value: 'A1', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } }], telecom: [{ system: 'email', value: 'anna@example.org' }], address: [{ city: 'Zürich' }] })).id;
  ids.smithson = (await s.create({ resourceType: 'Patient', name: [{ family: 'Smithson', given: ['Bo'] }], gender: 'male', birthDate: '1960', identifier: [{ system: 'urn:other', value: 'A1' }] })).id;
  ids.muller = (await s.create({ resourceType: 'Patient', name: [{ family: 'Müller', given: ['Jörg'] }], birthDate: '2001-11-30' })).id;
  const obs = (value: number, unit: string, code: string, date: string, extra: object = {}) =>
    s.create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code, display: code === '8867-4' ? 'Heart rate' : 'Body weight' }] }, subject: { reference: `Patient/${ids.smith}` }, effectiveDateTime: date, valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit }, ...extra });
  ids.hr72 = (await obs(72, '/min', '8867-4', '2024-05-01T08:30:00Z')).id;
  ids.hr130 = (await obs(130, '/min', '8867-4', '2023-01-15')).id;
  ids.weight = (await obs(80.5, 'kg', '29463-7', '2024-05', { effectiveDateTime: undefined, effectivePeriod: { start: '2024-05-01', end: '2024-05-31' } })).id;
  ids.bp = (
    await s.create({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
      subject: { reference: `Patient/${ids.smith}` },
      component: [
        { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 130, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
        { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 85, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
      ],
    })
  ).id;
  ids.risk = (await s.create({ resourceType: 'RiskAssessment', status: 'final', subject: { reference: `Patient/${ids.smith}` }, prediction: [{ probabilityDecimal: 0.25 }] })).id;
  const encounter = (code: string) =>
    s.create({ resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code } });
  ids.ambulatory = (await encounter('AMB')).id;
  ids.emergency = (await encounter('EMER')).id;
  ids.zurich = (await s.create({ resourceType: 'Location', name: 'Zürich HB', position: { latitude: 47.378, longitude: 8.540 } })).id;
  ids.bern = (await s.create({ resourceType: 'Location', name: 'Bern', position: { latitude: 46.949, longitude: 7.439 } })).id;
  ids.vs = (await s.create({ resourceType: 'ValueSet', status: 'active', url: 'http://example.org/fhir/ValueSet/colours' })).id;
});
afterAll(() => kiln.stop());

const sorted = (list: string[]) => [...list].sort();

describe('string', () => {
  it('matches the start of any name part, ignoring case and accents', async () => {
    expect(sorted(await s.ids('Patient', 'name=smi'))).toEqual(sorted([ids.smith, ids.smithson]));
    expect(await s.ids('Patient', 'name=MULL')).toEqual([ids.muller]);
    expect(await s.ids('Patient', 'given=jorg')).toEqual([ids.muller]);
    expect(await s.ids('Patient', 'name=mith')).toEqual([]);
    expect(await s.ids('Patient', 'address-city=zurich')).toEqual([ids.smith]);
  });

  it(':exact matches the whole value with its case and accents; :contains any part', async () => {
    expect(await s.ids('Patient', 'family:exact=Smith')).toEqual([ids.smith]);
    expect(await s.ids('Patient', 'family:exact=smith')).toEqual([]);
    expect(await s.ids('Patient', 'family:exact=Müller')).toEqual([ids.muller]);
    expect(sorted(await s.ids('Patient', 'name:contains=mith'))).toEqual(sorted([ids.smith, ids.smithson]));
  });

  it('ORs comma-separated values and ANDs repeated parameters', async () => {
    expect(sorted(await s.ids('Patient', 'family=muller,smithson'))).toEqual(sorted([ids.muller, ids.smithson]));
    expect(await s.ids('Patient', 'name=smith&name=anna')).toEqual([ids.smith]);
  });
});

describe('token', () => {
  it('matches code, system|code, |code and system|', async () => {
    expect(sorted(await s.ids('Patient', 'identifier=A1'))).toEqual(sorted([ids.smith, ids.smithson]));
    expect(await s.ids('Patient', 'identifier=urn:mrn|A1')).toEqual([ids.smith]);
    expect(await s.ids('Patient', 'identifier=urn:mrn|')).toEqual([ids.smith]);
    expect(await s.ids('Patient', 'identifier=|A1')).toEqual([]);
    expect(await s.ids('Patient', 'gender=female')).toEqual([ids.smith]);
    expect(await s.ids('Patient', 'email=anna@example.org')).toEqual([ids.smith]);
  });

  it(':of-type matches an identifier by its type and value', async () => {
    expect(await s.ids('Patient', 'identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|A1')).toEqual([ids.smith]);
    expect(await s.ids('Patient', 'identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|SS|A1')).toEqual([]);
    expect((await s.search('Patient', 'identifier:of-type=MR|A1')).status).toBe(400);
  });

  it(':in and :not-in use the codes of a value set', async () => {
    expect(sorted(await s.ids('Patient', 'gender:in=http://hl7.org/fhir/ValueSet/administrative-gender'))).toEqual(sorted([ids.smith, ids.smithson]));
    expect(await s.ids('Patient', 'gender:not-in=http://hl7.org/fhir/ValueSet/administrative-gender')).toEqual([ids.muller]);
    const unknown = await s.search('Patient', 'gender:in=http://example.org/ValueSet/none');
    expect(unknown.status).toBe(400);
  });

  it(':below and :above follow the code system hierarchy', async () => {
    const actCode = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
    expect(sorted(await s.ids('Encounter', `class:below=${actCode}|_ActEncounterCode`))).toEqual(sorted([ids.ambulatory, ids.emergency]));
    expect(await s.ids('Encounter', `class:below=${actCode}|AMB`)).toEqual([ids.ambulatory]);
    expect(await s.ids('Encounter', `class:above=${actCode}|AMB`)).toEqual([ids.ambulatory]);
    expect((await s.search('Encounter', 'class:below=http://snomed.info/sct|12345')).status).toBe(400);
  });

  it(':not keeps resources without a matching value, including those without any', async () => {
    expect(sorted(await s.ids('Patient', 'gender:not=female'))).toEqual(sorted([ids.smithson, ids.muller]));
  });

  it(':text matches the display or text', async () => {
    expect(sorted(await s.ids('Observation', 'code:text=heart'))).toEqual(sorted([ids.hr72, ids.hr130]));
  });

  it(':missing finds resources with and without a value', async () => {
    expect(await s.ids('Patient', 'gender:missing=true')).toEqual([ids.muller]);
    expect(sorted(await s.ids('Patient', 'gender:missing=false'))).toEqual(sorted([ids.smith, ids.smithson]));
  });
});

describe('date', () => {
  it.each([
    ['birthdate=1975', ['smith']],
    ['birthdate=1975-03', ['smith']],
    ['birthdate=1975-03-02', ['smith']],
    ['birthdate=eq1975-03-03', []],
    ['birthdate=ne1975-03-02', ['smithson', 'muller']],
    ['birthdate=gt1975', ['muller']],
    ['birthdate=ge1975', ['smith', 'muller']],
    ['birthdate=lt1975', ['smithson']],
    ['birthdate=le1975-03-02', ['smith', 'smithson']],
    ['birthdate=sa1970', ['smith', 'muller']],
    ['birthdate=eb1975-03-02', ['smithson']],
    ['birthdate=ap1975-03', ['smith']],
    ['birthdate=1960-06', []],
  ])('%s', async (query, expected) => {
    expect(sorted(await s.ids('Patient', query))).toEqual(sorted(expected.map((k) => ids[k])));
  });

  it('compares periods and instants at every precision', async () => {
    expect(sorted(await s.ids('Observation', 'date=2024-05'))).toEqual(sorted([ids.hr72, ids.weight]));
    expect(await s.ids('Observation', 'date=2024-05-01T08:30:00Z')).toEqual([ids.hr72]);
    expect(await s.ids('Observation', 'date=lt2024')).toEqual([ids.hr130]);
    expect(await s.ids('Observation', 'date=sa2024-05-15')).toEqual([]);
    expect(sorted(await s.ids('Observation', 'date=ge2024-05-15'))).toEqual([ids.weight]);
  });
});

describe('quantity and number', () => {
  it('compares values with prefixes and implied precision', async () => {
    expect(await s.ids('Observation', 'value-quantity=gt100')).toEqual([ids.hr130]);
    expect(await s.ids('Observation', 'value-quantity=72')).toEqual([ids.hr72]);
    expect(await s.ids('Observation', 'value-quantity=80')).toEqual([]);
    expect(await s.ids('Observation', 'value-quantity=80.5')).toEqual([ids.weight]);
    expect(await s.ids('Observation', 'value-quantity=81')).toEqual([ids.weight]);
    expect(sorted(await s.ids('Observation', 'value-quantity=le80.5'))).toEqual(sorted([ids.hr72, ids.weight]));
    expect(await s.ids('Observation', 'value-quantity=ap130')).toEqual([ids.hr130]);
  });

  it('filters on the unit as system|code or code', async () => {
    expect(sorted(await s.ids('Observation', 'value-quantity=gt50|http://unitsofmeasure.org|/min'))).toEqual(sorted([ids.hr72, ids.hr130]));
    expect(await s.ids('Observation', 'value-quantity=gt50||kg')).toEqual([ids.weight]);
    expect(await s.ids('Observation', 'value-quantity=gt50|http://other|kg')).toEqual([]);
  });

  it('compares UCUM quantities in base units, whatever unit the search uses', async () => {
    const ucum = 'http://unitsofmeasure.org';
    expect(await s.ids('Observation', `value-quantity=80500|${ucum}|g`)).toEqual([ids.weight]);
    expect(await s.ids('Observation', `value-quantity=gt80000|${ucum}|g`)).toEqual([ids.weight]);
    expect(await s.ids('Observation', `value-quantity=lt1|${ucum}|kg`)).toEqual([]);
    // 130 /min is more than 2 per second; 72 /min is not.
    expect(await s.ids('Observation', `value-quantity=gt2|${ucum}|/s`)).toEqual([ids.hr130]);
  });

  it('searches numbers', async () => {
    expect(await s.ids('RiskAssessment', 'probability=0.25')).toEqual([ids.risk]);
    expect(await s.ids('RiskAssessment', 'probability=gt0.3')).toEqual([]);
    expect(await s.ids('RiskAssessment', 'probability=lt0.3')).toEqual([ids.risk]);
  });
});

describe('composite', () => {
  it('matches when every part matches', async () => {
    expect(await s.ids('Observation', 'code-value-quantity=http://loinc.org|8867-4$gt100')).toEqual([ids.hr130]);
    expect(await s.ids('Observation', 'code-value-quantity=http://loinc.org|29463-7$gt100')).toEqual([]);
    expect(sorted(await s.ids('Observation', 'code-value-quantity=8867-4$gt100,29463-7$lt100'))).toEqual(sorted([ids.hr130, ids.weight]));
  });

  it('matches the parts within the same component, not across components', async () => {
    expect(await s.ids('Observation', 'component-code-value-quantity=http://loinc.org|8480-6$gt120')).toEqual([ids.bp]);
    expect(await s.ids('Observation', 'component-code-value-quantity=http://loinc.org|8462-4$gt120')).toEqual([]);
    expect(await s.ids('Observation', 'component-code-value-quantity=http://loinc.org|8462-4$lt90')).toEqual([ids.bp]);
  });

  it('refuses a value with the wrong number of parts', async () => {
    const res = await s.search('Observation', 'code-value-quantity=8867-4');
    expect(res.status).toBe(400);
    expect(res.body.issue[0].details.text).toContain('needs 2 parts');
  });
});

describe('reference', () => {
  it('matches Type/id, the id alone, an absolute URL under this base, and :Type', async () => {
    const all = sorted([ids.hr72, ids.hr130, ids.weight, ids.bp]);
    expect(sorted(await s.ids('Observation', `subject=Patient/${ids.smith}`))).toEqual(all);
    expect(sorted(await s.ids('Observation', `subject=${ids.smith}`))).toEqual(all);
    expect(sorted(await s.ids('Observation', `subject=${encodeURIComponent(`${kiln.fhirUrl}/Patient/${ids.smith}`)}`))).toEqual(all);
    expect(sorted(await s.ids('Observation', `subject:Patient=${ids.smith}`))).toEqual(all);
    expect(sorted(await s.ids('Observation', `patient=${ids.smith}`))).toEqual(all);
    expect(await s.ids('Observation', `subject=Patient/${ids.muller}`)).toEqual([]);
    expect(await s.ids('Observation', `subject:Group=${ids.smith}`)).toEqual([]);
  });
});

describe('absolute references', () => {
  it('find references written as this server\'s URL, and never ones to another server', async () => {
    const local = await s.create({ resourceType: 'Observation', status: 'final', code: { text: 'abs' }, subject: { reference: `${kiln.fhirUrl}/Patient/${ids.muller}` } });
    const foreign = await s.create({ resourceType: 'Observation', status: 'final', code: { text: 'abs' }, subject: { reference: `http://elsewhere.example.org/fhir/Patient/${ids.muller}` } });
    expect(await s.ids('Observation', `subject=Patient/${ids.muller}`)).toEqual([local.id]);
    expect(await s.ids('Observation', `subject=http://elsewhere.example.org/fhir/Patient/${ids.muller}`)).toEqual([foreign.id]);
    expect(await s.ids('Observation', 'subject:Patient.family=muller')).toEqual([local.id]);
    expect(await s.ids('Patient', `_has:Observation:subject:code:text=abs&_id=${ids.muller}`)).toEqual([ids.muller]);
  });
});

describe('uri', () => {
  it('matches exactly, :below and :above', async () => {
    expect(await s.ids('ValueSet', 'url=http://example.org/fhir/ValueSet/colours')).toEqual([ids.vs]);
    expect(await s.ids('ValueSet', 'url=http://example.org/fhir')).toEqual([]);
    expect(await s.ids('ValueSet', 'url:below=http://example.org/fhir')).toEqual([ids.vs]);
    expect(await s.ids('ValueSet', 'url:above=http://example.org/fhir/ValueSet/colours/v2')).toEqual([ids.vs]);
  });
});

describe('near', () => {
  it('finds locations within the distance, in the units given', async () => {
    // Zürich to Bern is about 95 km.
    expect(await s.ids('Location', 'near=47.37|8.54|10|km')).toEqual([ids.zurich]);
    expect(sorted(await s.ids('Location', 'near=47.37|8.54|100|km'))).toEqual(sorted([ids.zurich, ids.bern]));
    expect(await s.ids('Location', 'near=47.37|8.54|50|[mi_i]')).toEqual([ids.zurich]);
    expect(await s.ids('Location', 'near=47.37|8.54|2000|m')).toEqual([ids.zurich]);
    expect(await s.ids('Location', 'near=0|0|100|km')).toEqual([]);
  });

  it('refuses a malformed point or unit', async () => {
    expect((await s.search('Location', 'near=north|8.54|10|km')).status).toBe(400);
    expect((await s.search('Location', 'near=95|8.54|10|km')).status).toBe(400);
    expect((await s.search('Location', 'near=47|8|10|furlongs')).status).toBe(400);
  });
});

describe('_id and _lastUpdated', () => {
  it('match by id and by the time of the last change', async () => {
    expect(sorted(await s.ids('Patient', `_id=${ids.smith},${ids.muller}`))).toEqual(sorted([ids.smith, ids.muller]));
    expect(sorted(await s.ids('Patient', `_id:not=${ids.smith}`))).toEqual(sorted([ids.smithson, ids.muller]));
    expect((await s.ids('Patient', '_lastUpdated=gt2000-01-01')).length).toBe(3);
    expect(await s.ids('Patient', '_lastUpdated=lt2000-01-01')).toEqual([]);
  });
});

describe('bad values and modifiers', () => {
  it.each([
    ['Patient', 'birthdate=yesterday', 400, /not a date/],
    ['Patient', 'birthdate=xx2020', 400, /not a date/],
    ['Observation', 'value-quantity=gtabc', 400, /not a number/],
    ['Patient', 'gender:exact=female', 400, /modifier ":exact" is not supported/],
    ['Patient', 'name:below=smi', 400, /modifier ":below" is not supported/],
    ['Patient', 'gender:missing=maybe', 400, /:missing takes true or false/],
    ['Patient', 'nickname=pete', 400, /Unknown search parameter "nickname"/],
    ['Patient', 'identifier=a|b|c', 400, /more than one/],
    ['Observation', 'subject:Medication=1', 400, /cannot refer to Medication/],
  ])('%s?%s answers %i', async (type, query, status, message) => {
    const res = await s.search(type, query);
    expect(res.status).toBe(status);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].details.text).toMatch(message);
  });
});
