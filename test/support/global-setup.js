// Before the suite: a folder for this run's shared files (the embedded schema snapshot).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function globalSetup() {
  process.env.KILN_TEST_RUN_DIR = mkdtempSync(join(tmpdir(), 'kiln-test-'));
}
