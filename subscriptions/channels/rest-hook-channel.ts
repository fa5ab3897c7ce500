// The rest-hook channel (hl7.org/fhir/R4/subscription.html#channels): a POST to the endpoint with
// each `channel.header` entry sent as an HTTP header and the notification as the body. Every
// connection goes through the endpoint guard (no SSRF), redirects are not followed (a 3xx is a
// failure: the subscriber names where it wants notifications), and each call has a deadline.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { DeliveryError, type ChannelPlan, type ChannelSender, type OutgoingMessage } from '../model.js';
import type { EndpointGuard } from '../endpoint-guard.js';

/** `Name: value` → [name, value]; undefined for a line that is not a header (refused when written). */
export function headerLine(line: string): [string, string] | undefined {
  const colon = line.indexOf(':');
  if (colon <= 0) return undefined;
  return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
}

export function restHookChannel(guard: EndpointGuard, timeoutMs: number, userAgent: string): ChannelSender {
  return {
    type: 'rest-hook',
    send(_subscriptionId: string, channel: ChannelPlan, message: OutgoingMessage): Promise<void> {
      const endpoint = channel.endpoint ?? '';
      const refusal = guard.refusal(endpoint);
      if (refusal) return Promise.reject(new DeliveryError(`The endpoint ${refusal}`, false));
      const url = new URL(endpoint);
      const headers: Record<string, string> = { 'user-agent': userAgent };
      for (const line of channel.headers) {
        const header = headerLine(line);
        if (header) headers[header[0]] = header[1];
      }
      if (message.contentType) headers['content-type'] = message.contentType;
      const body = Buffer.from(message.body, 'utf8');
      headers['content-length'] = String(body.length);
      const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
      return new Promise<void>((resolve, reject) => {
        const req = request(url, { method: 'POST', headers, lookup: guard.lookupFor(url), timeout: timeoutMs }, (res) => {
          // The answer's body says nothing Kiln needs; it is read and dropped within the deadline.
          res.resume();
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new DeliveryError(`The endpoint answered ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, true));
          });
          res.on('error', (error) => reject(new DeliveryError(`The endpoint's answer broke off: ${error.message}`, true)));
        });
        const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        req.on('close', () => clearTimeout(deadline));
        req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on('error', (error: NodeJS.ErrnoException) => {
          clearTimeout(deadline);
          const refused = error.code === 'KILN_ENDPOINT_REFUSED';
          reject(new DeliveryError(refused ? error.message : `Could not deliver to the endpoint: ${error.message}`, !refused));
        });
        req.end(body);
      });
    },
  };
}
