// The data bench:search loads: Patients with varied names, genders and birth dates, and vital-sign
// and laboratory Observations about them. Everything comes from a seeded generator, so every run
// (and every generator thread) produces the same resources in the same order.
import type { Observation, Patient } from '@medplum/fhirtypes';

/** A small, fast, seedable PRNG (mulberry32): uniform in [0, 1). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal, by Box–Muller. */
function normal(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

const pick = <T>(rng: () => number, list: readonly T[]): T => list[Math.floor(rng() * list.length)];

/** Picks from [value, weight] pairs. */
function weighted<T>(table: readonly (readonly [T, number])[]): (rng: () => number) => T {
  const total = table.reduce((sum, [, weight]) => sum + weight, 0);
  const bounds: number[] = [];
  let acc = 0;
  for (const [, weight] of table) bounds.push((acc += weight / total));
  return (rng) => {
    const x = rng();
    for (let i = 0; i < bounds.length; i++) if (x < bounds[i]) return table[i][0];
    return table[table.length - 1][0];
  };
}

/** A version-4 UUID from the generator (Kiln gives new resources random UUIDs). */
export function uuid(rng: () => number): string {
  const hex: string[] = [];
  for (let i = 0; i < 4; i++) hex.push(Math.floor(rng() * 2 ** 32).toString(16).padStart(8, '0'));
  const h = hex.join('');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

// Family names by rough frequency; several start with "Smi"/"Smy" so that a prefix search has
// near misses (Smyth, Schmidt) as well as matches (Smith, Smithson, Smits, Smiley).
const FAMILY = weighted<string>([
  ['Smith', 30], ['Smithson', 4], ['Smyth', 4], ['Smits', 2], ['Smiley', 2], ['Schmidt', 5], ['Smart', 3],
  ['Johnson', 24], ['Williams', 20], ['Brown', 18], ['Jones', 18], ['Garcia', 16], ['Miller', 16], ['Davis', 15],
  ['Rodriguez', 14], ['Martinez', 14], ['Hernández', 12], ['Lopez', 12], ['Gonzalez', 12], ['Wilson', 11], ['Anderson', 11],
  ['Thomas', 10], ['Taylor', 10], ['Moore', 10], ['Jackson', 9], ['Martin', 9], ['Lee', 9], ['Pérez', 8], ['Thompson', 8],
  ['White', 8], ['Harris', 8], ['Sanchez', 7], ['Clark', 7], ['Ramirez', 7], ['Lewis', 7], ['Robinson', 7], ['Walker', 6],
  ['Young', 6], ['Allen', 6], ['King', 6], ['Wright', 6], ['Scott', 6], ['Torres', 5], ['Nguyen', 5], ['Hill', 5],
  ['Flores', 5], ['Green', 5], ['Adams', 5], ['Nelson', 5], ['Baker', 5], ['Hall', 5], ['Rivera', 4], ['Campbell', 4],
  ['Mitchell', 4], ['Carter', 4], ['Roberts', 4], ["O'Brien", 3], ['Müller', 3], ['Kowalski', 2], ['Østergaard', 1],
]);
const GIVEN_FEMALE = ['Mary', 'Patricia', 'Jennifer', 'Linda', 'Elizabeth', 'Barbara', 'Susan', 'Jessica', 'Sarah', 'Karen', 'Nancy', 'Lisa', 'Margaret', 'Emily', 'Olivia', 'Sophia', 'Chloé', 'Ana', 'Smilla', 'Zoë'];
const GIVEN_MALE = ['James', 'Robert', 'John', 'Michael', 'David', 'William', 'Richard', 'Joseph', 'Thomas', 'Charles', 'Daniel', 'Matthew', 'Anthony', 'Mark', 'José', 'Liam', 'Noah', 'Ethan', 'Luis', 'Søren'];
const CITIES: readonly (readonly [string, string, string])[] = [
  ['Springfield', 'IL', '627'], ['Madison', 'WI', '537'], ['Portland', 'OR', '972'], ['Austin', 'TX', '787'],
  ['Columbus', 'OH', '432'], ['Denver', 'CO', '802'], ['Raleigh', 'NC', '276'], ['Boston', 'MA', '021'],
];
const STREETS = ['Main St', 'Oak Ave', 'Maple Dr', 'Cedar Ln', 'Elm St', 'Park Rd', 'Lake View Blvd', 'Hillside Ct'];
const GENDER = weighted<'female' | 'male' | 'other' | 'unknown'>([['female', 505], ['male', 485], ['other', 5], ['unknown', 5]]);

const DAY = 86_400_000;
const BIRTH_FROM = Date.UTC(1930, 0, 1);
const BIRTH_TO = Date.UTC(2020, 11, 31);
/** Observations are dated from this instant to OBSERVED_TO (or from the birth date, if later). */
const OBSERVED_FROM = Date.UTC(2005, 0, 1);
const OBSERVED_TO = Date.UTC(2024, 11, 31, 23, 59, 59);

/** What the Observation generator needs to know about a Patient. */
export interface PatientSeed {
  id: string;
  gender: string;
  birth: number;
  /** Relative share of all Observations (some patients are seen far more often). */
  share: number;
  /** Resting heart rate of this patient, beats/min. */
  heartRate: number;
}

export interface GeneratedPatient {
  seed: PatientSeed;
  resource: Patient;
}

/** The `count` Patients of a run, always the same for the same seed. */
export function patients(seed: number, count: number): GeneratedPatient[] {
  const rng = random(seed);
  const out: GeneratedPatient[] = [];
  for (let n = 0; n < count; n++) {
    const id = uuid(rng);
    const gender = GENDER(rng);
    const birth = BIRTH_FROM + Math.floor(rng() * ((BIRTH_TO - BIRTH_FROM) / DAY)) * DAY;
    const female = gender === 'female' || (gender !== 'male' && rng() < 0.5);
    const given = [pick(rng, female ? GIVEN_FEMALE : GIVEN_MALE)];
    if (rng() < 0.35) given.push(pick(rng, female ? GIVEN_FEMALE : GIVEN_MALE));
    const family = FAMILY(rng);
    const [city, state, zip] = pick(rng, CITIES);
    const resource: Patient = {
      resourceType: 'Patient',
      identifier: [
        {
          use: 'usual',
          type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR', display: 'Medical record number' }] },
          system: 'urn:oid:2.16.840.1.113883.19.5',
          value: `MRN${String(100_000 + n).padStart(7, '0')}`,
        },
      ],
      active: rng() < 0.97,
      name: [{ use: 'official', family, given, ...(rng() < 0.1 ? { prefix: [female ? 'Ms.' : 'Mr.'] } : {}) }],
      telecom: [{ system: 'phone', value: `555-${String(Math.floor(rng() * 9000) + 1000)}-${String(Math.floor(rng() * 9000) + 1000)}`, use: rng() < 0.7 ? 'mobile' : 'home' }],
      gender,
      birthDate: new Date(birth).toISOString().slice(0, 10),
      address: [
        {
          use: 'home',
          line: [`${Math.floor(rng() * 9000) + 10} ${pick(rng, STREETS)}`],
          city,
          state,
          postalCode: `${zip}${String(Math.floor(rng() * 100)).padStart(2, '0')}`,
          country: 'US',
        },
      ],
    };
    // Log-normal: most patients near the mean, a long tail of frequently observed ones.
    const share = Math.exp(0.7 * normal(rng));
    const heartRate = 76 + 10 * normal(rng);
    out.push({ seed: { id, gender, birth, share, heartRate }, resource });
  }
  return out;
}

/** Picks a patient index in proportion to each patient's share. */
export function patientPicker(seeds: PatientSeed[]): (rng: () => number) => number {
  const bounds = new Float64Array(seeds.length);
  let acc = 0;
  for (let i = 0; i < seeds.length; i++) bounds[i] = acc += seeds[i].share;
  return (rng) => {
    const x = rng() * acc;
    let lo = 0;
    let hi = bounds.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (bounds[mid] <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';

/** The heart-rate code every benchmark query uses. */
export const HEART_RATE = '8867-4';
/** A code seen rarely (about 1 Observation in 5,000), for the reverse-chained (_has) search. */
export const RARE_CODE = '94500-6';

interface Measure {
  code: string;
  display: string;
  category: 'vital-signs' | 'laboratory';
  unit: string;
  /** Mean and standard deviation of the value, and the decimals it is recorded with. */
  mean: number;
  sd: number;
  decimals: number;
  /** Normal range (labs): values outside get an interpretation H or L. */
  range?: [number, number];
}

const MEASURES: Record<string, Measure> = {
  heartRate: { code: HEART_RATE, display: 'Heart rate', category: 'vital-signs', unit: '/min', mean: 0, sd: 11, decimals: 0 },
  respiratory: { code: '9279-1', display: 'Respiratory rate', category: 'vital-signs', unit: '/min', mean: 16, sd: 3, decimals: 0 },
  temperature: { code: '8310-5', display: 'Body temperature', category: 'vital-signs', unit: 'Cel', mean: 36.9, sd: 0.5, decimals: 1 },
  oxygen: { code: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry', category: 'vital-signs', unit: '%', mean: 97, sd: 1.5, decimals: 0 },
  weight: { code: '29463-7', display: 'Body weight', category: 'vital-signs', unit: 'kg', mean: 78, sd: 17, decimals: 1 },
  height: { code: '8302-2', display: 'Body height', category: 'vital-signs', unit: 'cm', mean: 170, sd: 10, decimals: 1 },
  bmi: { code: '39156-5', display: 'Body mass index (BMI) [Ratio]', category: 'vital-signs', unit: 'kg/m2', mean: 27, sd: 5, decimals: 1 },
  glucose: { code: '2339-0', display: 'Glucose [Mass/volume] in Blood', category: 'laboratory', unit: 'mg/dL', mean: 105, sd: 25, decimals: 0, range: [70, 140] },
  hemoglobin: { code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', category: 'laboratory', unit: 'g/dL', mean: 14, sd: 1.6, decimals: 1, range: [12, 17.5] },
  creatinine: { code: '2160-0', display: 'Creatinine [Mass/volume] in Serum or Plasma', category: 'laboratory', unit: 'mg/dL', mean: 1, sd: 0.3, decimals: 2, range: [0.6, 1.3] },
  potassium: { code: '2823-3', display: 'Potassium [Moles/volume] in Serum or Plasma', category: 'laboratory', unit: 'mmol/L', mean: 4.2, sd: 0.4, decimals: 1, range: [3.5, 5.1] },
  sodium: { code: '2951-2', display: 'Sodium [Moles/volume] in Serum or Plasma', category: 'laboratory', unit: 'mmol/L', mean: 140, sd: 3, decimals: 0, range: [135, 145] },
  cholesterol: { code: '2093-3', display: 'Cholesterol [Mass/volume] in Serum or Plasma', category: 'laboratory', unit: 'mg/dL', mean: 195, sd: 38, decimals: 0, range: [0, 200] },
  hba1c: { code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood', category: 'laboratory', unit: '%', mean: 5.8, sd: 0.9, decimals: 1, range: [4, 5.7] },
  leukocytes: { code: '6690-2', display: 'Leukocytes [#/volume] in Blood by Automated count', category: 'laboratory', unit: '10*3/uL', mean: 7.2, sd: 2, decimals: 1, range: [4.5, 11] },
  platelets: { code: '777-3', display: 'Platelets [#/volume] in Blood by Automated count', category: 'laboratory', unit: '10*3/uL', mean: 260, sd: 60, decimals: 0, range: [150, 400] },
};

type Kind = keyof typeof MEASURES | 'bloodPressure' | 'covid';

/** Share of each kind of Observation: heart rate about 18 %, the rare code 0.02 %. */
const KIND = weighted<Kind>([
  ['heartRate', 180], ['bloodPressure', 140], ['respiratory', 80], ['temperature', 80], ['oxygen', 80], ['weight', 80],
  ['height', 30], ['bmi', 30], ['glucose', 60], ['hemoglobin', 40], ['creatinine', 40], ['potassium', 40], ['sodium', 40],
  ['cholesterol', 30], ['hba1c', 30], ['leukocytes', 20], ['platelets', 20], ['covid', 0.2],
]);
const STATUS = weighted<Observation['status']>([['final', 960], ['amended', 25], ['corrected', 10], ['preliminary', 5]]);

const round = (value: number, decimals: number) => Math.round(value * 10 ** decimals) / 10 ** decimals;
const quantity = (value: number, unit: string) => ({ value, unit, system: UCUM, code: unit });
const category = (code: 'vital-signs' | 'laboratory') => [
  { coding: [{ system: CATEGORY, code, display: code === 'vital-signs' ? 'Vital Signs' : 'Laboratory' }] },
];

/** When an Observation was made: uniformly from 2005 (or the birth date) to the end of 2024, UTC, to the second. */
function effective(rng: () => number, patient: PatientSeed): number {
  const from = Math.max(OBSERVED_FROM, patient.birth + DAY);
  return Math.floor((from + rng() * (OBSERVED_TO - from)) / 1000) * 1000;
}

const dateTime = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

export function observation(rng: () => number, patient: PatientSeed, sequence: number): Observation {
  const kind = KIND(rng);
  const when = effective(rng, patient);
  const base: Observation = {
    resourceType: 'Observation',
    status: STATUS(rng),
    category: category('vital-signs'),
    code: { coding: [] },
    subject: { reference: `Patient/${patient.id}` },
    effectiveDateTime: dateTime(when),
    issued: new Date(when + Math.floor(rng() * 3_600_000)).toISOString(),
  };
  if (kind === 'bloodPressure') {
    const systolic = Math.round(122 + 16 * normal(rng));
    const diastolic = Math.round(78 + 10 * normal(rng));
    return {
      ...base,
      code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel with all children optional' }], text: 'Blood pressure' },
      component: [
        { code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }] }, valueQuantity: quantity(systolic, 'mm[Hg]') },
        { code: { coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' }] }, valueQuantity: quantity(diastolic, 'mm[Hg]') },
      ],
    };
  }
  if (kind === 'covid') {
    const detected = rng() < 0.15;
    return {
      ...base,
      identifier: [{ system: 'http://lab.example.org/accession', value: `ACC${sequence}` }],
      category: category('laboratory'),
      code: {
        coding: [{ system: LOINC, code: RARE_CODE, display: 'SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection' }],
        text: 'SARS-CoV-2 RNA',
      },
      valueCodeableConcept: {
        coding: [{ system: 'http://snomed.info/sct', code: detected ? '260373001' : '260415000', display: detected ? 'Detected' : 'Not detected' }],
      },
    };
  }
  const measure = MEASURES[kind];
  const mean = kind === 'heartRate' ? patient.heartRate : measure.mean;
  const value = round(Math.max(measure.decimals ? 0.1 : 1, mean + measure.sd * normal(rng)), measure.decimals);
  const observationOf: Observation = {
    ...base,
    category: category(measure.category),
    code: { coding: [{ system: LOINC, code: measure.code, display: measure.display }], text: measure.display },
    valueQuantity: quantity(value, measure.unit),
  };
  if (measure.range) {
    const [low, high] = measure.range;
    observationOf.identifier = [{ system: 'http://lab.example.org/accession', value: `ACC${sequence}` }];
    observationOf.referenceRange = [{ low: quantity(low, measure.unit), high: quantity(high, measure.unit) }];
    if (value < low || value > high) {
      const code = value > high ? 'H' : 'L';
      observationOf.interpretation = [{ coding: [{ system: INTERPRETATION, code, display: code === 'H' ? 'High' : 'Low' }] }];
    }
  }
  return observationOf;
}

/**
 * The Observations numbered from `from` (inclusive) to `to` (exclusive) of a run: each one's
 * patient and content depend only on the seed and its number, so any range can be produced on its own.
 */
export function observations(seed: number, seeds: PatientSeed[], from: number, to: number): Observation[] {
  const pickPatient = patientPicker(seeds);
  const out: Observation[] = [];
  for (let n = from; n < to; n++) {
    const rng = random((seed ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0);
    rng();
    out.push(observation(rng, seeds[pickPatient(rng)], n));
  }
  return out;
}
