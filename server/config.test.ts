import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('runs on the embedded database with defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.PORT).toBe(8080);
    expect(config.baseUrl).toBe('http://localhost:8080/fhir');
    expect(config.KILN_MAX_BODY).toBe(16 * 1024 * 1024);
    expect(config.KILN_CHECK_REFERENCES).toBe(true);
  });

  it('reads sizes with units and a base URL without its trailing slash', () => {
    const config = loadConfig({ KILN_MAX_BODY: '2mb', KILN_BASE_URL: 'https://fhir.example.org/fhir/' });
    expect(config.KILN_MAX_BODY).toBe(2 * 1024 * 1024);
    expect(config.baseUrl).toBe('https://fhir.example.org/fhir');
  });

  it('runs one process on the embedded database and one per CPU on Postgres', () => {
    expect(loadConfig({}).KILN_WORKERS).toBe(1);
    expect(loadConfig({ DATABASE_URL: 'postgres://localhost/kiln' }).KILN_WORKERS).toBeGreaterThanOrEqual(1);
    expect(loadConfig({ DATABASE_URL: 'postgres://localhost/kiln', KILN_WORKERS: '3' }).KILN_WORKERS).toBe(3);
    expect(() => loadConfig({ KILN_WORKERS: '2' })).toThrow(/KILN_WORKERS="2": the embedded database allows one process/);
  });

  it.each([
    ['PORT', 'eighty'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['KILN_CHECK_REFERENCES', 'maybe'],
    ['KILN_MAX_BODY', 'lots'],
    ['KILN_WORKERS', 'many'],
  ])('stops with one line naming %s when it is %s', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(`${name}=`);
    expect(message.split('\n')).toHaveLength(1);
  });
});
