import { DatabaseUnavailable, isUnavailable } from './unavailable.js';

const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('isUnavailable', () => {
  it.each([
    ['a refused connection', withCode('ECONNREFUSED')],
    ['a reset connection', withCode('ECONNRESET')],
    ['a connection that timed out', withCode('ETIMEDOUT')],
    ['a server shut down by its administrator (57P01)', withCode('57P01', 'terminating connection due to administrator command')],
    ['a server that crashed (57P02)', withCode('57P02')],
    ['a server starting up (57P03)', withCode('57P03', 'the database system is starting up')],
    ['a connection failure (08006)', withCode('08006')],
    ['the pool giving up on a connection', new Error('timeout exceeded when trying to connect')],
    ['a connection ended under a query', new Error('Connection terminated unexpectedly')],
    ['a statement past the client deadline', new Error('Query read timeout')],
    ['every address of a host refusing', Object.assign(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')]), { code: undefined })],
    ['a failure caused by one of these', new Error('could not open', { cause: withCode('57P03') })],
    ['the wait at start-up giving up', new DatabaseUnavailable('the database did not answer')],
  ])('is true for %s', (_what, error) => {
    expect(isUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', withCode('23505')],
    ['a statement cancelled by statement_timeout (answered 503 on its own)', withCode('57014')],
    ['a syntax error', withCode('42601')],
    ['a wrong password', withCode('28P01')],
    ['a database that does not exist', withCode('3D000')],
    ['a plain error', new Error('something else')],
    ['nothing', undefined],
  ])('is false for %s', (_what, error) => {
    expect(isUnavailable(error)).toBe(false);
  });
});
