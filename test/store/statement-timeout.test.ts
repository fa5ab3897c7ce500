// A statement that runs too long is cancelled by the database and answered as 503, not a hang.
import express from 'express';
import request from 'supertest';
import { loadValidation } from '../../resources/validate.js';
import { sqlStateOf, SqlState } from '../../server/store/database.js';
import { errorHandler } from '../../server/http/error-handler.js';
import { openDatabase } from '../../server/store/open-database.js';

beforeAll(() => loadValidation());

// The embedded database runs each statement to its end (it has no second thread to cancel it
// from), so the timeout is a property of a Postgres server; CI runs this file against one too.
if (process.env.DATABASE_URL) {
  it('cancels a statement past KILN_STATEMENT_TIMEOUT_MS', async () => {
    const db = await openDatabase({ url: process.env.DATABASE_URL, poolSize: 2, statementTimeoutMs: 200 });
    try {
      const error = await db.query('SELECT pg_sleep(3)').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(sqlStateOf(error)).toBe(SqlState.queryCanceled);
      // The connection is still usable afterwards.
      expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows[0].one).toBe(1);
    } finally {
      await db.close();
    }
  });
}

it('answers a cancelled statement with 503 and an OperationOutcome', async () => {
  const app = express();
  app.get('/slow', () => {
    throw Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
  });
  app.use(errorHandler);
  const res = await request(app).get('/slow');
  expect(res.status).toBe(503);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].code).toBe('transient');
});
