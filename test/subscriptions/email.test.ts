// The email channel with a real SMTP server (smtp-server): an R4 criteria Subscription mails the
// matching resource as an attachment to the channel's mailto: address; a Kiln without
// KILN_SMTP_URL refuses email Subscriptions, saying what to set; and a process without it that
// shares the database does not drop the email Subscriptions another process accepted.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Observation, OperationOutcome, Subscription } from '@medplum/fhirtypes';
import { SMTPServer } from 'smtp-server';
import request from 'supertest';
import { loadConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { SubscriptionService } from '../../subscriptions/subscription-service.js';
import { TEST_NOTIFICATIONS } from '../support/kiln-process.js';
import { FHIR_JSON, json, startTestServer, uniqueId, type TestServer } from '../support/test-server.js';
import { eventually, FEED_WAIT_MS } from './receiver.js';

interface Mail {
  to: string[];
  raw: string;
}

let smtp: SMTPServer;
const mails: Mail[] = [];
let kiln: TestServer;
let plainKiln: TestServer;
beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), raw: Buffer.concat(chunks).toString() });
        done();
      });
    },
  });
  smtp.listen(0, '127.0.0.1');
  await once(smtp.server, 'listening');
  const smtpPort = (smtp.server.address() as { port: number }).port;
  smtpUrl = `smtp://127.0.0.1:${smtpPort}`;
  // On Postgres it gets a database of its own (test/support/own-database.ts): other files' Kilns
  // have no SMTP server, and on a shared database would take this file's email Subscriptions from
  // it (the last test shows what they then do).
  kiln = await startTestServer({ KILN_NOTIFICATIONS: 'on', KILN_SMTP_URL: smtpUrl });
  // The default test server: no SMTP server configured, notifications off.
  plainKiln = await startTestServer();
});
afterAll(async () => {
  await kiln.stop();
  await plainKiln.stop();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});
let smtpUrl: string;

const post = (server: TestServer, path: string, body: unknown) => request(server.server).post(`/fhir/${path}`).set('Content-Type', FHIR_JSON).send(json(body));

/** The parts of a raw MIME message: each part's headers (unfolded, lower-case names) and body. */
function mimeParts(raw: string): { headers: Map<string, string>; body: string }[] {
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(raw)?.[1];
  if (!boundary) return [];
  return raw
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((part) => {
      const text = part.replace(/^\r\n/, '');
      const split = text.indexOf('\r\n\r\n');
      const headers = new Map<string, string>();
      for (const line of text.slice(0, split).replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
      }
      return { headers, body: text.slice(split + 4).replace(/\r\n$/, '') };
    });
}

/** A part's body as the bytes it stands for. */
function decoded(part: { headers: Map<string, string>; body: string }): string {
  const encoding = part.headers.get('content-transfer-encoding')?.toLowerCase();
  if (encoding === 'base64') return Buffer.from(part.body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') return part.body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return part.body;
}

it('mails a matching resource to the mailto: address, as a JSON attachment', async () => {
  const marker = uniqueId('Mail');
  const created = await post(kiln, 'Subscription', {
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'new observations of one marker',
    criteria: `Observation?code=http://example.org/codes|${marker}`,
    channel: { type: 'email', endpoint: 'mailto:nurse@example.org', payload: 'application/fhir+json' },
  });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  // An R4 email subscription needs no handshake (and so sends no mail) before it is active.
  await eventually(async () => ((await request(kiln.server).get(`/fhir/Subscription/${id}`)).body as Subscription).status === 'active', FEED_WAIT_MS, 'the subscription to become active');

  const subject = `Kiln notification for Subscription/${id}`;
  const mine = () => mails.filter((mail) => mail.raw.replace(/\r\n[ \t]+/g, ' ').includes(`Subject: ${subject}`));
  expect(mine()).toHaveLength(0);

  const observation: Observation = { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://example.org/codes', code: marker }] }, valueString: 'seen by mail' };
  const written = (await post(kiln, 'Observation', observation)).body as Observation;
  // Another code: no match, no mail.
  expect((await post(kiln, 'Observation', { ...observation, code: { coding: [{ system: 'http://example.org/codes', code: `${marker}-other` }] } })).status).toBe(201);
  await eventually(async () => mine().length >= 1, FEED_WAIT_MS, 'the notification mail');
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(mine()).toHaveLength(1);

  const [mail] = mine();
  expect(mail.to).toEqual(['nurse@example.org']);
  const parts = mimeParts(mail.raw);
  const attachment = parts.find((part) => /attachment/i.test(part.headers.get('content-disposition') ?? ''));
  expect(attachment).toBeDefined();
  expect(attachment?.headers.get('content-disposition')).toContain('notification.json');
  expect(attachment?.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  const attached = JSON.parse(decoded(attachment as (typeof parts)[number])) as Observation;
  expect(attached.resourceType).toBe('Observation');
  expect(attached.id).toBe(written.id);
  expect(attached.valueString).toBe('seen by mail');
  // The text of the mail names the Subscription but carries no health data.
  const text = parts.find((part) => part.headers.get('content-type')?.startsWith('text/plain'));
  expect(decoded(text as (typeof parts)[number])).toContain(`Subscription/${id}`);
  expect(decoded(text as (typeof parts)[number])).not.toContain('seen by mail');
});

it('refuses an email Subscription with 422 naming KILN_SMTP_URL when no SMTP server is configured', async () => {
  const marker = uniqueId('nomail');
  const answer = await post(plainKiln, 'Subscription', {
    resourceType: 'Subscription',
    status: 'requested',
    reason: marker,
    criteria: 'Observation?code=1',
    channel: { type: 'email', endpoint: 'mailto:nurse@example.org', payload: 'application/fhir+json' },
  });
  expect(answer.status).toBe(422);
  const outcome = answer.body as OperationOutcome;
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(JSON.stringify(outcome.issue)).toContain('KILN_SMTP_URL');
  expect(outcome.issue?.[0].expression).toContain('Subscription.channel.type');
});

it('keeps an email Subscription that a process without KILN_SMTP_URL reads from the change feed', async () => {
  // Two processes on one database: one with the SMTP server, which accepts the Subscription, and
  // one without, which reads the change feed first (the first one polls only once a minute). A
  // process that cannot send email must leave email Subscriptions to one that can, not drop them.
  const mailer = await startTestServer({ KILN_NOTIFICATIONS: 'on', KILN_SMTP_URL: smtpUrl, KILN_SUBSCRIPTION_POLL_MS: '60000' });
  const config = loadConfig({ ...TEST_NOTIFICATIONS, KILN_AUTH: 'off', KILN_NOTIFICATIONS: 'on', DATABASE_URL: process.env.DATABASE_URL ?? '', KILN_MQTT_URL: '', PORT: '0' });
  const http = createServer();
  const withoutSmtp = new SubscriptionService(
    { config, logger: createLogger('silent'), ctx: () => mailer.ctx },
    { mayBind: async () => 'no', bindToken: async () => ({ refused: 'no' }), handshake: async () => undefined },
  );
  await withoutSmtp.start(http);
  try {
    const created = await post(mailer, 'Subscription', {
      resourceType: 'Subscription',
      status: 'requested',
      reason: uniqueId('kept'),
      criteria: `Observation?code=http://example.org/codes|${uniqueId('kept')}`,
      channel: { type: 'email', endpoint: 'mailto:nurse@example.org', payload: 'application/fhir+json' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    // A websocket Subscription written after it: once Kiln knows it, the feed has been read past
    // the email Subscription.
    const after = await post(mailer, 'Subscription', { resourceType: 'Subscription', status: 'requested', reason: 'a marker in the feed', criteria: 'Observation?code=marker', channel: { type: 'websocket' } });
    expect(after.status).toBe(201);
    await eventually(async () => (await request(mailer.server).get(`/fhir/Subscription/${after.body.id as string}/$status`)).status === 200, FEED_WAIT_MS, 'the feed to be read past the email Subscription');

    const status = await request(mailer.server).get(`/fhir/Subscription/${id}/$status`);
    // The refusal's text is in the failure, should there be one.
    expect({ status: status.status, issue: (status.body as OperationOutcome).issue }).toEqual({ status: 200, issue: undefined });
  } finally {
    await withoutSmtp.stop();
    await mailer.stop();
  }
});
