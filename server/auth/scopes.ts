// SMART App Launch 2.x, Scopes and Launch Context
// (hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html): the resource scopes
// `context/Type.permissions[?filter]` in both the v2 syntax (`.cruds`) and the v1 syntax
// (`.read`, `.write`, `.*`) that SMART 2 servers still accept, plus the identity (openid, fhirUser,
// profile), launch-context (launch, launch/patient, launch/encounter) and refresh-token
// (offline_access, online_access) scopes.

import { isResourceType } from '../../resources/definitions.js';

export type ScopeContext = 'patient' | 'user' | 'system';
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface ResourceScope {
  text: string;                 // the scope as written
  context: ScopeContext;
  resourceType: string;         // a resource type name or '*'
  permissions: ReadonlySet<Permission>;
  /** v2 query filter, e.g. patient/Observation.rs?category=vital-signs → [['category','vital-signs']] */
  filter: [string, string][];
  version: 1 | 2;
}

export interface ParsedScopes {
  resources: ResourceScope[];
  openid: boolean; fhirUser: boolean; profile: boolean;
  launch: boolean;               // 'launch' (EHR launch)
  launchPatient: boolean;        // 'launch/patient'
  launchEncounter: boolean;      // 'launch/encounter'
  offlineAccess: boolean; onlineAccess: boolean;
  /** Scopes that are not valid SMART scopes, or name no R4 resource type (→ the caller answers invalid_scope). */
  unknown: string[];
}

type NonResourceFlag = Exclude<keyof ParsedScopes, 'resources' | 'unknown'>;

/** Every non-resource scope by its text, in the order formatScopes writes them. */
const NON_RESOURCE_SCOPES: readonly [string, NonResourceFlag][] = [
  ['openid', 'openid'],
  ['fhirUser', 'fhirUser'],
  ['profile', 'profile'],
  ['launch', 'launch'],
  ['launch/patient', 'launchPatient'],
  ['launch/encounter', 'launchEncounter'],
  ['offline_access', 'offlineAccess'],
  ['online_access', 'onlineAccess'],
];
const NON_RESOURCE_FLAG = new Map(NON_RESOURCE_SCOPES);

/** §Scope Equivalence with SMART v1: `.read` is `.rs`, `.write` is `.cud`, `.*` is `.cruds`. */
// A Map, not an object literal, so that `.constructor` or `.toString` find nothing.
const V1_PERMISSIONS = new Map<string, readonly Permission[]>([
  ['read', ['r', 's']],
  ['write', ['c', 'u', 'd']],
  ['*', ['c', 'r', 'u', 'd', 's']],
]);

// Scopes are case-sensitive. The pattern checks the type's shape; whether FHIR R4 has the type is
// checked after (parseResourceScope), so that `system/Foo.rs` is refused like any scope Kiln does
// not know instead of being granted by a `system/*` registration and then matching nothing.
const RESOURCE_SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]*)\.([^?]*)(?:\?(.*))?$/;
// v2 permissions are a non-empty subset of c, r, u, d, s written in that order, each at most once,
// so that every set of permissions has exactly one spelling.
const V2_PERMISSIONS = /^(?=.)c?r?u?d?s?$/;

function emptyScopes(): ParsedScopes {
  return {
    resources: [],
    openid: false, fhirUser: false, profile: false,
    launch: false, launchPatient: false, launchEncounter: false,
    offlineAccess: false, onlineAccess: false,
    unknown: [],
  };
}

/** The `?` part of a v2 scope as name/value pairs; undefined when it is not a usable query. */
function parseFilter(query: string): [string, string][] | undefined {
  const pairs = [...new URLSearchParams(query)];
  // A filter that restricts nothing (`?`, `?&`, `?category=`) is a mistake, not a wider grant.
  if (pairs.length === 0 || pairs.some(([name, value]) => name === '' || value === '')) return undefined;
  return pairs;
}

/** One `context/Type.permissions[?filter]` scope, or undefined when it is not valid SMART syntax or R4 has no such type. */
function parseResourceScope(text: string): ResourceScope | undefined {
  const match = RESOURCE_SCOPE.exec(text);
  if (!match) return undefined;
  const [, context, resourceType, permissionText, query] = match;
  if (resourceType !== '*' && !isResourceType(resourceType)) return undefined;
  const v1Permissions = V1_PERMISSIONS.get(permissionText);
  if (v1Permissions) {
    // Filters arrived with SMART 2; a v1 scope carrying one has no defined meaning.
    if (query !== undefined) return undefined;
    return { text, context: context as ScopeContext, resourceType, permissions: new Set(v1Permissions), filter: [], version: 1 };
  }
  if (!V2_PERMISSIONS.test(permissionText)) return undefined;
  const filter = query === undefined ? [] : parseFilter(query);
  if (!filter) return undefined;
  return { text, context: context as ScopeContext, resourceType, permissions: new Set([...permissionText] as Permission[]), filter, version: 2 };
}

export function parseScopes(text: string | undefined): ParsedScopes {
  const scopes = emptyScopes();
  // OAuth 2.0 (RFC 6749 §3.3): a space-delimited list whose order does not matter, so repeats add nothing.
  const words = new Set((text ?? '').split(/\s+/).filter((word) => word !== ''));
  for (const word of words) {
    const flag = NON_RESOURCE_FLAG.get(word);
    if (flag) {
      scopes[flag] = true;
      continue;
    }
    const resource = parseResourceScope(word);
    if (resource) scopes.resources.push(resource);
    else scopes.unknown.push(word);
  }
  return scopes;
}

/**
 * Re-serialises a ParsedScopes back to a space-separated scope string (stable order, as written).
 * Non-resource scopes come first in a fixed order, then resource scopes in their order. Unknown
 * scopes are left out: the string is meant for a token response, which only holds granted scopes.
 */
export function formatScopes(scopes: ParsedScopes): string {
  const words = NON_RESOURCE_SCOPES.filter(([, flag]) => scopes[flag]).map(([word]) => word);
  for (const resource of scopes.resources) words.push(resource.text);
  return [...new Set(words)].join(' ');
}

/** Filters compare as sets of pairs: `?a=1&b=2` and `?b=2&a=1` select the same resources. */
function filterKey(filter: readonly [string, string][]): string {
  return filter.map((pair) => JSON.stringify(pair)).sort().join('&');
}

/** Whether `allowed` gives at least everything `requested` asks for. */
function covers(allowed: ResourceScope, requested: ResourceScope): boolean {
  if (allowed.context !== requested.context) return false;
  if (allowed.resourceType !== '*' && allowed.resourceType !== requested.resourceType) return false;
  for (const permission of requested.permissions) if (!allowed.permissions.has(permission)) return false;
  // An unfiltered allowed scope covers any narrowing of itself; a filtered one only the same filter,
  // since telling whether one search narrows another would need the search semantics of each parameter.
  return allowed.filter.length === 0 || filterKey(allowed.filter) === filterKey(requested.filter);
}

/**
 * Which requested scopes a client may have: `allowed` are the scopes registered for the client
 * (same syntax; may use '*' types and broader permissions). A requested resource scope is granted
 * when some allowed scope of the same context covers it: same type or allowed '*', requested
 * permissions ⊆ allowed permissions, and (allowed has no filter, or the filters are equal).
 * Non-resource scopes (openid, fhirUser, launch..., offline_access, online_access, profile) are granted
 * when listed in `allowed`. Returns the granted scopes and the refused ones (as written).
 * Unknown requested scopes are refused too.
 */
export function grantScopes(requested: ParsedScopes, allowed: ParsedScopes): { granted: ParsedScopes; refused: string[] } {
  const granted = emptyScopes();
  const refused: string[] = [];
  for (const [word, flag] of NON_RESOURCE_SCOPES) {
    if (!requested[flag]) continue;
    if (allowed[flag]) granted[flag] = true;
    else refused.push(word);
  }
  for (const resource of requested.resources) {
    if (allowed.resources.some((candidate) => covers(candidate, resource))) granted.resources.push(resource);
    else refused.push(resource.text);
  }
  refused.push(...requested.unknown);
  return { granted, refused };
}

/**
 * The FHIR interactions scopes govern, by the permission each needs (§Scopes for requesting FHIR
 * resources): vread and instance-level history need `r` (pass 'read'), patch needs `u` (pass
 * 'update'), type- and system-level history and system-level search need `s` (pass 'search').
 */
export type Interaction = 'create' | 'read' | 'update' | 'delete' | 'search';

const PERMISSION_FOR: Record<Interaction, Permission> = { create: 'c', read: 'r', update: 'u', delete: 'd', search: 's' };

/** The resource scopes (of any context) that allow `interaction` on `resourceType`; empty = denied. */
export function scopesFor(scopes: readonly ResourceScope[], resourceType: string, interaction: Interaction): ResourceScope[] {
  const permission = PERMISSION_FOR[interaction];
  return scopes.filter((scope) => (scope.resourceType === '*' || scope.resourceType === resourceType) && scope.permissions.has(permission));
}
