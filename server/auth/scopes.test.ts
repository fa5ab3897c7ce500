import { formatScopes, grantScopes, parseScopes, scopesFor, type Interaction, type Permission } from './scopes.js';

const permissions = (letters: string) => new Set([...letters] as Permission[]);

describe('parseScopes', () => {
  it('reads v1 scopes as their v2 equivalents', () => {
    const { resources, unknown } = parseScopes('patient/Observation.read user/*.write system/Patient.*');
    expect(unknown).toEqual([]);
    expect(resources).toEqual([
      { text: 'patient/Observation.read', context: 'patient', resourceType: 'Observation', permissions: permissions('rs'), filter: [], version: 1 },
      { text: 'user/*.write', context: 'user', resourceType: '*', permissions: permissions('cud'), filter: [], version: 1 },
      { text: 'system/Patient.*', context: 'system', resourceType: 'Patient', permissions: permissions('cruds'), filter: [], version: 1 },
    ]);
  });

  it.each(['c', 'r', 'u', 'd', 's', 'rs', 'cu', 'cud', 'rds', 'cruds'])('reads the v2 permissions .%s', (letters) => {
    const [scope] = parseScopes(`patient/Condition.${letters}`).resources;
    expect(scope).toMatchObject({ context: 'patient', resourceType: 'Condition', version: 2, filter: [] });
    expect(scope.permissions).toEqual(permissions(letters));
  });

  it('reads a v2 filter as query-string pairs', () => {
    const text = 'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';
    const [scope] = parseScopes(text).resources;
    expect(scope.text).toBe(text);
    expect(scope.filter).toEqual([['category', 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs']]);
    expect(parseScopes('user/Observation.s?category=laboratory&status=final').resources[0].filter).toEqual([
      ['category', 'laboratory'],
      ['status', 'final'],
    ]);
    expect(parseScopes('user/Observation.s?code=a%20b').resources[0].filter).toEqual([['code', 'a b']]);
  });

  it('reads the identity, launch and refresh-token scopes', () => {
    const scopes = parseScopes('openid fhirUser profile launch launch/patient launch/encounter offline_access online_access');
    expect(scopes).toEqual({
      resources: [],
      openid: true, fhirUser: true, profile: true,
      launch: true, launchPatient: true, launchEncounter: true,
      offlineAccess: true, onlineAccess: true,
      unknown: [],
    });
    expect(parseScopes('launch/patient')).toMatchObject({ launch: false, launchPatient: true, launchEncounter: false, openid: false });
  });

  it.each([
    ['permissions out of order', 'patient/Observation.sr'],
    ['a repeated permission', 'patient/Observation.rrs'],
    ['an unknown permission letter', 'patient/Observation.rx'],
    ['an upper-case permission', 'patient/Observation.RS'],
    ['v1 and v2 mixed', 'patient/Observation.reads'],
    ['an object property as permissions', 'patient/Observation.constructor'],
    ['no permission part', 'patient/Observation'],
    ['an empty permission part', 'patient/Observation.'],
    ['an unknown context', 'practitioner/Observation.rs'],
    ['a capitalised context', 'Patient/Observation.rs'],
    ['a lower-case type', 'patient/observation.rs'],
    ['a type with a digit', 'patient/Observation2.rs'],
    ['no type', 'patient/.rs'],
    ['a filter on a v1 scope', 'patient/Observation.read?category=vital-signs'],
    ['an empty filter', 'patient/Observation.rs?'],
    ['a filter without a value', 'patient/Observation.rs?category'],
    ['a filter without a name', 'patient/Observation.rs?=vital-signs'],
    ['an unknown launch context', 'launch/location'],
    ['a misspelt identity scope', 'fhiruser'],
  ])('refuses %s as unknown', (_, text) => {
    const scopes = parseScopes(`openid ${text}`);
    expect(scopes.unknown).toEqual([text]);
    expect(scopes.resources).toEqual([]);
    expect(scopes.openid).toBe(true);
  });

  it.each(['system/UnknownType.read', 'system/Foo.rs', 'patient/Observations.rs', 'user/Patients.cruds', 'patient/Resource.rs', 'user/DomainResource.rs', 'patient/Observations.rs?category=vital-signs'])(
    'refuses %s, which names no FHIR R4 resource type, as unknown',
    (text) => {
      const scopes = parseScopes(`openid ${text}`);
      expect(scopes.unknown).toEqual([text]);
      expect(scopes.resources).toEqual([]);
    },
  );

  it('keeps the wildcard type and every R4 resource type', () => {
    const text = 'system/*.rs patient/MedicationRequest.rs user/AuditEvent.read system/Bundle.c patient/Observation.rs?category=vital-signs';
    const scopes = parseScopes(text);
    expect(scopes.unknown).toEqual([]);
    expect(scopes.resources.map((s) => s.resourceType)).toEqual(['*', 'MedicationRequest', 'AuditEvent', 'Bundle', 'Observation']);
  });

  it('reads nothing from an empty or missing scope', () => {
    for (const text of [undefined, '', '   ']) {
      const scopes = parseScopes(text);
      expect(scopes.resources).toEqual([]);
      expect(scopes.unknown).toEqual([]);
      expect(formatScopes(scopes)).toBe('');
    }
  });

  it('collapses repeated scopes, whatever the whitespace between them', () => {
    const scopes = parseScopes(' patient/Observation.rs  openid\tpatient/Observation.rs openid bogus bogus ');
    expect(scopes.resources.map((s) => s.text)).toEqual(['patient/Observation.rs']);
    expect(scopes.unknown).toEqual(['bogus']);
    expect(scopes.openid).toBe(true);
  });
});

describe('formatScopes', () => {
  it('writes back what it read, non-resource scopes first in a fixed order', () => {
    const text = 'launch/patient patient/Observation.rs?category=vital-signs openid user/*.read offline_access fhirUser';
    const formatted = formatScopes(parseScopes(text));
    expect(formatted).toBe('openid fhirUser launch/patient offline_access patient/Observation.rs?category=vital-signs user/*.read');
    expect(parseScopes(formatted)).toEqual(parseScopes(text));
    expect(formatScopes(parseScopes(formatted))).toBe(formatted);
  });

  it('leaves unknown scopes out', () => {
    expect(formatScopes(parseScopes('openid patient/Observation.sr'))).toBe('openid');
  });
});

describe('grantScopes', () => {
  const grant = (requested: string, allowed: string) => {
    const { granted, refused } = grantScopes(parseScopes(requested), parseScopes(allowed));
    return { granted: formatScopes(granted), refused, unknown: granted.unknown };
  };

  it('grants a scope an allowed scope of the same context, type and wider permissions covers', () => {
    expect(grant('patient/Observation.rs', 'patient/Observation.rs')).toEqual({ granted: 'patient/Observation.rs', refused: [], unknown: [] });
    expect(grant('patient/Observation.r', 'patient/Observation.cruds').granted).toBe('patient/Observation.r');
    expect(grant('patient/Observation.read', 'patient/Observation.rs').granted).toBe('patient/Observation.read');
    expect(grant('patient/Observation.rs', 'patient/Observation.read').granted).toBe('patient/Observation.rs');
  });

  it('refuses a scope no allowed scope covers', () => {
    expect(grant('patient/Observation.rs', 'patient/Observation.r')).toEqual({ granted: '', refused: ['patient/Observation.rs'], unknown: [] });
    expect(grant('patient/Observation.write', 'patient/Observation.read').refused).toEqual(['patient/Observation.write']);
    expect(grant('user/Observation.rs', 'patient/Observation.rs').refused).toEqual(['user/Observation.rs']);
    expect(grant('patient/Condition.rs', 'patient/Observation.rs').refused).toEqual(['patient/Condition.rs']);
  });

  it('lets an allowed wildcard type cover any type, but not the other way round', () => {
    expect(grant('patient/Observation.rs patient/Condition.r', 'patient/*.read')).toEqual({
      granted: 'patient/Observation.rs patient/Condition.r',
      refused: [],
      unknown: [],
    });
    expect(grant('patient/*.rs', 'patient/Observation.cruds').refused).toEqual(['patient/*.rs']);
    expect(grant('patient/*.rs', 'patient/*.cruds').granted).toBe('patient/*.rs');
  });

  it('lets an unfiltered allowed scope cover a filtered request, and a filtered one only the same filter', () => {
    const vitals = 'patient/Observation.rs?category=vital-signs';
    expect(grant(vitals, 'patient/Observation.rs').granted).toBe(vitals);
    expect(grant(vitals, vitals).granted).toBe(vitals);
    expect(grant('patient/Observation.r?category=vital-signs', vitals).granted).toBe('patient/Observation.r?category=vital-signs');
    expect(grant('patient/Observation.rs?status=final&category=vital-signs', 'patient/Observation.rs?category=vital-signs&status=final').refused).toEqual([]);
    expect(grant('patient/Observation.rs?category=laboratory', vitals).refused).toEqual(['patient/Observation.rs?category=laboratory']);
    expect(grant('patient/Observation.rs', vitals).refused).toEqual(['patient/Observation.rs']);
  });

  it('grants non-resource scopes only when allowed lists them', () => {
    const { granted, refused } = grantScopes(
      parseScopes('openid fhirUser launch launch/patient offline_access'),
      parseScopes('openid launch/patient online_access patient/*.read'),
    );
    expect(formatScopes(granted)).toBe('openid launch/patient');
    expect(granted).toMatchObject({ fhirUser: false, launch: false, offlineAccess: false, onlineAccess: false });
    expect(refused).toEqual(['fhirUser', 'launch', 'offline_access']);
  });

  it('refuses a scope naming a type that does not exist, even where the allowed scopes have a wildcard type', () => {
    expect(grant('system/UnknownType.read system/Patient.rs', 'system/*.cruds')).toEqual({ granted: 'system/Patient.rs', refused: ['system/UnknownType.read'], unknown: [] });
    expect(grant('patient/Observations.rs', 'patient/*.rs')).toEqual({ granted: '', refused: ['patient/Observations.rs'], unknown: [] });
  });

  it('refuses unknown requested scopes as written and grants nothing for an empty request', () => {
    expect(grant('openid patient/Observation.sr', 'openid patient/*.cruds')).toEqual({ granted: 'openid', refused: ['patient/Observation.sr'], unknown: [] });
    expect(grant('', 'openid patient/*.cruds')).toEqual({ granted: '', refused: [], unknown: [] });
  });
});

describe('scopesFor', () => {
  const { resources } = parseScopes('patient/Observation.rs user/*.c system/Patient.ud patient/Condition.d');
  const allowing = (type: string, interaction: Interaction) => scopesFor(resources, type, interaction).map((s) => s.text);

  it.each<[Interaction, string, string[]]>([
    ['create', 'Observation', ['user/*.c']],
    ['read', 'Observation', ['patient/Observation.rs']],
    ['search', 'Observation', ['patient/Observation.rs']],
    ['update', 'Observation', []],
    ['delete', 'Observation', []],
    ['update', 'Patient', ['system/Patient.ud']],
    ['delete', 'Patient', ['system/Patient.ud']],
    ['read', 'Patient', []],
    ['create', 'Patient', ['user/*.c']],
    ['delete', 'Condition', ['patient/Condition.d']],
    ['search', 'Condition', []],
  ])('%s on %s is allowed by %j', (interaction, type, expected) => {
    expect(allowing(type, interaction)).toEqual(expected);
  });

  it('maps v1 read and write onto the interactions they stand for', () => {
    const v1 = parseScopes('patient/Observation.read patient/Condition.write').resources;
    expect(scopesFor(v1, 'Observation', 'read')).toHaveLength(1);
    expect(scopesFor(v1, 'Observation', 'search')).toHaveLength(1);
    expect(scopesFor(v1, 'Observation', 'update')).toEqual([]);
    for (const interaction of ['create', 'update', 'delete'] as const) expect(scopesFor(v1, 'Condition', interaction)).toHaveLength(1);
    expect(scopesFor(v1, 'Condition', 'read')).toEqual([]);
  });

  it('denies everything with no scopes', () => {
    expect(scopesFor([], 'Observation', 'read')).toEqual([]);
  });
});
