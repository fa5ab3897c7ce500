// How the isolation matrix sends its requests and judges the answers: an answer leaks when it
// holds an id or a marker of data the caller may not see (other than what the request itself
// named), or when it differs from the answer to the same request about something that does not
// exist (then the caller could infer that the other thing exists).

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export async function send(origin: string, token: string, req: HttpRequest): Promise<Answer> {
  const response = await fetch(`${origin}${req.path}`, {
    method: req.method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', ...(req.headers ?? {}) },
    body: req.body,
    redirect: 'manual',
  });
  return { status: response.status, headers: Object.fromEntries(response.headers), text: await response.text() };
}

/** Runs `work` over `items`, `limit` at a time. */
export async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** What must never appear: the ids of resources the caller may not see, and their marker words. */
export interface Forbidden {
  ids: Set<string>;
  markers: string[];
}

/** The forbidden ids and markers an answer holds, not counting those the request named itself. */
export function leakedIn(answer: Answer, req: HttpRequest, forbidden: Forbidden): string[] {
  const asked = `${req.path} ${req.body ?? ''} ${JSON.stringify(req.headers ?? {})}`;
  const said = `${JSON.stringify(answer.headers)} ${answer.text}`;
  const found = new Set<string>();
  for (const id of said.match(UUID) ?? []) if (forbidden.ids.has(id) && !asked.includes(id)) found.add(id);
  for (const marker of forbidden.markers) if (said.includes(marker) && !asked.includes(marker)) found.add(marker);
  return [...found];
}

const HEADERS_COMPARED = ['location', 'content-location', 'etag', 'www-authenticate', 'allow'];

/**
 * The answer with what differs between any two requests taken away: ids, times, page cursors and
 * the run's marker words, so that an answer about B's resource and one about nothing compare equal
 * exactly when they tell the caller the same.
 */
export function normalized(answer: Answer, markers: string[]): string {
  const scrub = (text: string) => {
    let out = text
      .replace(UUID, 'ID')
      .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/g, 'TIME')
      .replace(/_page=[A-Za-z0-9_-]+/g, '_page=PAGE');
    for (const marker of markers) out = out.split(marker).join('MARK');
    return out;
  };
  const headers = HEADERS_COMPARED.filter((name) => answer.headers[name] !== undefined).map((name) => `${name}: ${scrub(answer.headers[name])}`);
  return [String(answer.status), ...headers, scrub(answer.text)].join('\n');
}
