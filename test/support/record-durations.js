// Writes test/support/file-durations.json from the JSON report of a full `npm test` run (jest
// --json): each test file's duration in seconds, which test/support/sequencer.js uses to start the
// longest files first on a clean clone.
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';

const [report] = process.argv.slice(2);
if (!report) {
  console.error('usage: node test/support/record-durations.js <jest --json report>');
  process.exit(2);
}
const { testResults } = JSON.parse(readFileSync(report, 'utf8'));
const durations = Object.fromEntries(
  testResults
    .map((r) => [relative(process.cwd(), r.name), Math.round((r.endTime - r.startTime) / 1000)])
    .sort(([a], [b]) => a.localeCompare(b)),
);
writeFileSync(new URL('./file-durations.json', import.meta.url), `${JSON.stringify(durations, null, 2)}\n`);
console.log(`${Object.keys(durations).length} files' durations written to test/support/file-durations.json`);
