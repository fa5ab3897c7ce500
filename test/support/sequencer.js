// The order test files start in. Jest starts the longest first when it has timings from an earlier
// run on this machine, and otherwise the largest file first. A clean clone (CI) has no timings, and
// a file's size says little (the isolation matrix is a small file that runs for many minutes): the
// slowest file could start last and leave the other worker idle at the end. The durations recorded
// in test/support/file-durations.json (`npm run test:durations` writes them from a full run) stand
// in for the timings a clean clone lacks.
import Sequencer from '@jest/test-sequencer';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const BaseSequencer = Sequencer.default ?? Sequencer;

let recorded;
function recordedSeconds(file) {
  if (!recorded) {
    try {
      recorded = JSON.parse(readFileSync(new URL('./file-durations.json', import.meta.url), 'utf8'));
    } catch {
      recorded = {};
    }
  }
  return recorded[file];
}

export default class RecordedDurationsSequencer extends BaseSequencer {
  time(test) {
    const measured = super.time(test);
    if (measured != null) return measured;
    const seconds = recordedSeconds(relative(test.context.config.rootDir, test.path));
    return seconds == null ? undefined : seconds * 1000;
  }
}
