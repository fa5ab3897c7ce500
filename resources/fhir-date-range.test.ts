import { dateRange } from './fhir-date-range.js';

describe('dateRange', () => {
  it('widens a year, a month and a day to the whole interval', () => {
    expect(dateRange('2020')).toEqual({ start: new Date('2020-01-01T00:00:00Z'), end: new Date('2021-01-01T00:00:00Z') });
    expect(dateRange('2020-02')).toEqual({ start: new Date('2020-02-01T00:00:00Z'), end: new Date('2020-03-01T00:00:00Z') });
    expect(dateRange('2020-12-31')).toEqual({ start: new Date('2020-12-31T00:00:00Z'), end: new Date('2021-01-01T00:00:00Z') });
  });

  it('keeps time zone offsets and fractional seconds', () => {
    expect(dateRange('2020-05-06T10:00:00+02:00')).toEqual({ start: new Date('2020-05-06T08:00:00Z'), end: new Date('2020-05-06T08:00:01Z') });
    expect(dateRange('2020-05-06T10:00:00.123Z')).toEqual({ start: new Date('2020-05-06T10:00:00.123Z'), end: new Date('2020-05-06T10:00:00.124Z') });
  });

  it('rejects what is not a FHIR date', () => {
    for (const bad of ['20201', '2020-13', '2021-02-30', 'yesterday', '2020-05-06T10:00:00', '']) {
      expect(dateRange(bad)).toBeUndefined();
    }
  });
});
