// The email channel: a notification is one message through the SMTP server of KILN_SMTP_URL to
// the addresses of the channel's `mailto:` endpoint (RFC 6068). The text of the mail says only
// which Subscription has news; a notification with a payload carries it as an attachment, so that
// a mail client shows no health data in the message preview. Channel headers may add mail headers,
// but never ones that would send the mail elsewhere, change who it claims to be from, or alter
// its structure.
import nodemailer from 'nodemailer';
import { DeliveryError, type ChannelPlan, type ChannelSender, type OutgoingMessage } from '../model.js';

export interface EmailChannelOptions {
  /** KILN_SMTP_URL: `smtp://[user:password@]host[:port]` (STARTTLS when offered) or `smtps://…` (TLS from the start). */
  smtpUrl: string;
  /** KILN_SMTP_FROM: the sender, e.g. `Kiln <kiln@localhost>`. */
  from: string;
  /** How long to wait to connect, for the greeting, and on a silent connection. */
  timeoutMs?: number;
}

export const DEFAULT_FROM = 'Kiln <kiln@localhost>';
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Headers a channel may not set: the addressing and identity of the mail (which could redirect it
 * or forge its origin), its MIME structure, and the trace and signature headers of the mail system.
 */
const FORBIDDEN_HEADERS = [
  /^(from|to|cc|bcc|sender|reply-to|return-path|subject|received|mime-version|message-id|date)$/i,
  /^(content-|dkim-|arc-|resent-)/i,
  /^(errors-to|disposition-notification-to|return-receipt-to|in-reply-to|references)$/i,
];

/** RFC 5322 field-name: printable ASCII but the colon. */
const FIELD_NAME = /^[!-9;-~]+$/;

/** A dot-atom address with a domain of dot-separated labels: what mail servers all accept. */
const ADDRESS = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*$/u;
const MAX_ADDRESS_LENGTH = 254;

function decoded(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * The recipients of a `mailto:` endpoint: the addresses of its path and of its `to` header field,
 * percent-decoded. Undefined unless there is at least one and every one is a plain address. Other
 * header fields (`subject`, `cc`, `body`, …) are not used: Kiln writes the mail itself.
 */
export function mailtoAddresses(endpoint: string): string[] | undefined {
  const match = /^mailto:([^?]*)(?:\?(.*))?$/i.exec(endpoint);
  if (!match) return undefined;
  const lists = [match[1]];
  for (const field of (match[2] ?? '').split('&')) {
    const [name, value = ''] = field.split('=', 2);
    if (decoded(name)?.toLowerCase() === 'to') lists.push(value);
  }
  const addresses: string[] = [];
  for (const list of lists) {
    for (const part of list.split(',')) {
      if (!part) continue;
      const address = decoded(part);
      if (address === undefined || address.length > MAX_ADDRESS_LENGTH || !ADDRESS.test(address)) return undefined;
      addresses.push(address);
    }
  }
  return addresses.length ? addresses : undefined;
}

/** The channel's `Name: value` lines that may become mail headers. */
export function allowedHeaders(lines: readonly string[]): { key: string; value: string }[] {
  const headers: { key: string; value: string }[] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    // A line break in a value would start a header of its own, past this check.
    if (!FIELD_NAME.test(key) || /[\r\n]/.test(value) || FORBIDDEN_HEADERS.some((forbidden) => forbidden.test(key))) continue;
    headers.push({ key, value });
  }
  return headers;
}

function transportOptions(smtpUrl: string, timeoutMs: number) {
  const url = new URL(smtpUrl);
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new Error(`KILN_SMTP_URL must be smtp:// or smtps://, not ${url.protocol}`);
  const secure = url.protocol === 'smtps:';
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : secure ? 465 : 25,
    secure,
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
  };
}

/**
 * Whether a failed send may succeed later. A 5xx reply about the mail or its recipients is final;
 * a refused sign-in is Kiln's configuration (fixed without touching the Subscription), and
 * connection failures, timeouts and 4xx replies are passing.
 */
function retryable(error: { responseCode?: number; code?: string }): boolean {
  if (error.code === 'EAUTH') return true;
  return !(typeof error.responseCode === 'number' && error.responseCode >= 500 && error.responseCode < 600);
}

export function emailChannel(options: EmailChannelOptions): ChannelSender {
  const transport = nodemailer.createTransport(transportOptions(options.smtpUrl, options.timeoutMs ?? DEFAULT_TIMEOUT_MS));
  const from = options.from || DEFAULT_FROM;
  return {
    type: 'email',
    async send(subscriptionId: string, channel: ChannelPlan, message: OutgoingMessage): Promise<void> {
      const to = channel.endpoint === undefined ? undefined : mailtoAddresses(channel.endpoint);
      if (!to) throw new DeliveryError(`Subscription/${subscriptionId}: the channel endpoint is not a mailto: with an address`, false);
      const reference = `Subscription/${subscriptionId}`;
      const content = message.body
        ? {
            text: `Kiln has a notification for ${reference}; it is attached as notification.json.\n`,
            attachments: [{ filename: 'notification.json', content: message.body, contentType: message.contentType ?? 'application/json' }],
          }
        : { text: `${reference} has new events on Kiln.\n` };
      try {
        await transport.sendMail({ from, to, subject: `Kiln notification for ${reference}`, headers: allowedHeaders(channel.headers), ...content });
      } catch (error) {
        const failure = error as Error & { responseCode?: number; code?: string };
        throw new DeliveryError(`${reference}: email to ${to.join(', ')} failed: ${failure.message}`, retryable(failure));
      }
    },
  };
}
