// After the suite: remove this run's shared files.
import { rmSync } from 'node:fs';

export default function globalTeardown() {
  if (process.env.KILN_TEST_RUN_DIR) rmSync(process.env.KILN_TEST_RUN_DIR, { recursive: true, force: true });
}
