// The shared data sets (synthetic patient records, DICOM files) live beside the repository, in
// ../shared/data, not in it. A clone made elsewhere (CI clones into a temporary folder) finds them
// beside the repository it was cloned from. KILN_SHARED_DATA names the folder outright.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const REPOSITORY = resolve(import.meta.dirname, '../..');

function clonedFrom(): string | undefined {
  try {
    const origin = execFileSync('git', ['-C', REPOSITORY, 'config', '--get', 'remote.origin.url'], { encoding: 'utf8' }).trim();
    return origin.startsWith('/') ? resolve(origin) : undefined;
  } catch {
    return undefined;
  }
}

/** The folder `name` of the shared data; a test that needs it fails, never skips, when it is missing. */
export function sharedData(name: string): string {
  const candidates = [process.env.KILN_SHARED_DATA, join(dirname(REPOSITORY), 'shared', 'data'), ...[clonedFrom()].filter(Boolean).map((origin) => join(dirname(origin as string), 'shared', 'data'))];
  for (const base of candidates) if (base && existsSync(join(base, name))) return join(base, name);
  throw new Error(`The shared data folder ${name} was not found (looked in ${candidates.filter(Boolean).join(', ')}); set KILN_SHARED_DATA to the folder that holds it`);
}
