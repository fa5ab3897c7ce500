// What of a request's URL a log line may hold. Under /auth every query parameter belongs to an
// authorization (state, codes, PKCE, launch), so the query string is left out; elsewhere the
// values of the parameters that carry credentials are redacted, however their names are written.
const SECRET_PARAMETERS = new Set(['access_token', 'code', 'refresh_token', 'password', 'client_secret', 'client_assertion', 'id_token', 'token']);
const REDACTED = '[redacted]';

function parameterName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

export function loggableUrl(url: string): string {
  const query = url.indexOf('?');
  if (query < 0) return url;
  const path = url.slice(0, query);
  // Express matches /auth without regard to case, so the log must too.
  const lower = path.toLowerCase();
  if (lower === '/auth' || lower.startsWith('/auth/')) return path;
  const pairs = url
    .slice(query + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      if (equals < 0 || !SECRET_PARAMETERS.has(parameterName(pair.slice(0, equals)))) return pair;
      return `${pair.slice(0, equals)}=${REDACTED}`;
    });
  return `${path}?${pairs.join('&')}`;
}
