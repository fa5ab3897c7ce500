// The email channel against a real SMTP server (smtp-server): what the mail says and carries, who
// gets it, which channel headers pass, and which failures are worth a retry.
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { DeliveryError, type ChannelPlan } from '../model.js';
import { emailChannel, mailtoAddresses } from './email-channel.js';

interface Received {
  from: string;
  to: string[];
  raw: string;
}

async function smtpServer(overrides: Partial<SMTPServerOptions> = {}) {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks).toString(),
        });
        done();
      });
    },
    ...overrides,
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const port = (server.server.address() as { port: number }).port;
  return { server, received, url: `smtp://127.0.0.1:${port}` };
}

const servers: SMTPServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

async function started(overrides: Partial<SMTPServerOptions> = {}) {
  const started = await smtpServer(overrides);
  servers.push(started.server);
  return started;
}

const channel = (endpoint: string, headers: string[] = []): ChannelPlan => ({ type: 'email', endpoint, headers, payload: 'application/fhir+json' });

/** The headers of a raw message, unfolded, by lower-case name. */
function headersOf(raw: string): Map<string, string[]> {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string[]>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return headers;
}

describe('mailtoAddresses', () => {
  it.each([
    ['mailto:alice@example.org', ['alice@example.org']],
    ['mailto:alice@example.org,bob@example.org', ['alice@example.org', 'bob@example.org']],
    ['mailto:alice%2Bkiln@example.org', ['alice+kiln@example.org']],
    ['MAILTO:alice@example.org?subject=ignored&to=carol@example.org', ['alice@example.org', 'carol@example.org']],
    ['mailto:?to=carol@example.org', ['carol@example.org']],
    ['mailto:ana@bücher.example', ['ana@bücher.example']],
  ])('%s', (endpoint, addresses) => {
    expect(mailtoAddresses(endpoint)).toEqual(addresses);
  });

  it.each([
    ['no scheme', 'alice@example.org'],
    ['another scheme', 'https://example.org'],
    ['no address', 'mailto:'],
    ['no domain', 'mailto:alice'],
    ['a second address that is not one', 'mailto:alice@example.org,bob'],
    ['a line break', 'mailto:alice@example.org%0D%0ABcc:eve@example.org'],
    ['a display name', 'mailto:Alice%20%3Calice@example.org%3E'],
    ['a malformed percent-encoding', 'mailto:alice%E0@example.org'],
    ['a non-ASCII local part (SMTPUTF8 is not assumed)', 'mailto:jos%C3%A9@b%C3%BCcher.example'],
  ])('refuses %s', (_what, endpoint) => {
    expect(mailtoAddresses(endpoint)).toBeUndefined();
  });
});

describe('emailChannel', () => {
  it('sends a notification with its payload attached as notification.json', async () => {
    const { url, received } = await started();
    const email = emailChannel({ smtpUrl: url, from: 'Kiln <kiln@hospital.example>' });
    const body = '{"resourceType":"Bundle","type":"history","entry":[]}';
    await email.send('sub-42', channel('mailto:alice@example.org,bob%2Bward@example.org'), { contentType: 'application/fhir+json', body });
    expect(received).toHaveLength(1);
    const [mail] = received;
    expect(mail.from).toBe('kiln@hospital.example');
    expect(mail.to).toEqual(['alice@example.org', 'bob+ward@example.org']);
    const headers = headersOf(mail.raw);
    expect(headers.get('subject')).toEqual(['Kiln notification for Subscription/sub-42']);
    expect(headers.get('to')?.[0]).toContain('alice@example.org');
    expect(mail.raw).toMatch(/Content-Type: application\/fhir\+json; name=notification\.json/);
    expect(mail.raw).toMatch(/Content-Disposition: attachment; filename=notification\.json/);
    // The attachment is base64-encoded: find it and decode it.
    const attachment = /filename=notification\.json\r\n(?:[^\r\n]+\r\n)*\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/.exec(mail.raw);
    expect(Buffer.from(attachment?.[1].replace(/\r\n/g, '') ?? '', 'base64').toString()).toBe(body);
    expect(mail.raw).toContain('Kiln has a notification for Subscription/sub-42');
  });

  it('sends a plain line, and no attachment, for a notification without payload', async () => {
    const { url, received } = await started();
    await emailChannel({ smtpUrl: url, from: 'Kiln <kiln@localhost>' }).send('sub-7', channel('mailto:alice@example.org'), { body: '' });
    expect(received).toHaveLength(1);
    expect(received[0].raw).toContain('Subscription/sub-7 has new events on Kiln.');
    expect(received[0].raw).not.toContain('notification.json');
    expect(headersOf(received[0].raw).get('content-type')?.[0]).toMatch(/^text\/plain/);
  });

  it('adds channel headers, but none that could redirect or forge the mail', async () => {
    const { url, received } = await started();
    const headers = ['X-Ward: North 3', 'Bcc: x@y.example', 'Reply-To: eve@evil.example', 'Content-Type: text/html', 'DKIM-Signature: v=1', 'From: eve@evil.example', 'X-Split: a\r\nBcc: eve@evil.example'];
    await emailChannel({ smtpUrl: url, from: 'Kiln <kiln@localhost>' }).send('sub-1', channel('mailto:alice@example.org', headers), { body: '' });
    const [mail] = received;
    expect(mail.to).toEqual(['alice@example.org']);
    const sent = headersOf(mail.raw);
    expect(sent.get('x-ward')).toEqual(['North 3']);
    expect(sent.has('bcc')).toBe(false);
    expect(sent.has('reply-to')).toBe(false);
    expect(sent.has('dkim-signature')).toBe(false);
    expect(sent.has('x-split')).toBe(false);
    expect(sent.get('from')).toEqual(['Kiln <kiln@localhost>']);
    expect(sent.get('content-type')?.[0]).toMatch(/^text\/plain/);
    expect(mail.raw).not.toContain('evil.example');
  });

  it('fails without retry when the server refuses the recipient with a 5xx', async () => {
    const { url, received } = await started({
      onRcptTo(_address, _session, done) {
        done(Object.assign(new Error('No such user here'), { responseCode: 550 }));
      },
    });
    const sent = emailChannel({ smtpUrl: url, from: 'Kiln <kiln@localhost>' }).send('sub-1', channel('mailto:nobody@example.org'), { body: '' });
    await expect(sent).rejects.toBeInstanceOf(DeliveryError);
    await expect(sent).rejects.toMatchObject({ retryable: false });
    expect(received).toHaveLength(0);
  });

  it('fails with retry when the server defers the recipient with a 4xx', async () => {
    const { url } = await started({
      onRcptTo(_address, _session, done) {
        done(Object.assign(new Error('Mailbox busy, try later'), { responseCode: 450 }));
      },
    });
    const sent = emailChannel({ smtpUrl: url, from: 'Kiln <kiln@localhost>' }).send('sub-1', channel('mailto:busy@example.org'), { body: '' });
    await expect(sent).rejects.toMatchObject({ retryable: true });
  });

  it('fails with retry when the SMTP server cannot be reached', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const sent = emailChannel({ smtpUrl: `smtp://127.0.0.1:${port}`, from: 'Kiln <kiln@localhost>', timeoutMs: 2000 }).send('sub-1', channel('mailto:alice@example.org'), { body: '' });
    await expect(sent).rejects.toMatchObject({ retryable: true });
  });

  it('fails with retry when the SMTP server never greets', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const port = (silent.address() as { port: number }).port;
    try {
      const sent = emailChannel({ smtpUrl: `smtp://127.0.0.1:${port}`, from: 'Kiln <kiln@localhost>', timeoutMs: 500 }).send('sub-1', channel('mailto:alice@example.org'), { body: '' });
      await expect(sent).rejects.toMatchObject({ retryable: true });
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('refuses, without retry, an endpoint that is not a mailto: address', async () => {
    const { url } = await started();
    await expect(emailChannel({ smtpUrl: url, from: 'Kiln <kiln@localhost>' }).send('sub-1', channel('https://example.org'), { body: '' })).rejects.toMatchObject({ retryable: false });
  });
});
