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

describe('a DATABASE_URL with a password', () => {
  const messageOf = (env: NodeJS.ProcessEnv): string => {
    try {
      loadConfig(env);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('the configuration was accepted');
  };

  it.each([
    ['a URL of another database', { DATABASE_URL: 'mysql://kiln:s3cret-Pa55@db.example.org/kiln' }, 'mysql://kiln:***@db.example.org/kiln'],
    ['a password with reserved characters', { DATABASE_URL: 'mysql://kiln:s3cret-Pa55%40x@db.example.org/kiln' }, 'mysql://kiln:***@db.example.org/kiln'],
    ['a password as a parameter', { DATABASE_URL: 'mysql://db.example.org/kiln?user=kiln&password=s3cret-Pa55&ssl=true' }, 'password=***&ssl=true'],
    ['a text that is no URL at all', { DATABASE_URL: 'kiln:s3cret-Pa55@db.example.org' }, 'DATABASE_URL=(hidden: not a URL)'],
    ['another setting wrong beside it', { DATABASE_URL: 'postgres://kiln:s3cret-Pa55@db.example.org/kiln', KILN_WORKERS: 'many' }, 'KILN_WORKERS'],
  ])('never shows the password when the configuration is refused: %s', (_what, env, shown) => {
    const message = messageOf(env);
    expect(message).not.toContain('s3cret-Pa55');
    expect(message).toContain(shown);
  });
});
