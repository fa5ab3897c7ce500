// `kiln import`: every unit of every file through a sink, a few at a time, with a progress bar
// (resources/s, ETA) and the state saved after each unit; then a summary of what failed and why.
import { SingleBar } from 'cli-progress';
import { ImportState, type Failure } from './import-state.js';
import type { Sink } from './sinks.js';
import { listSources, unitsOf, UnitError, type ImportUnit, type SourceFile } from './sources.js';

export interface ImportOptions {
  paths: string[];
  statePath: string;
  concurrency: number;
  sink: Sink;
  /** Where the progress bar and the summary go. */
  out: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface ImportSummary {
  files: number;
  /** Resources written by this run and, before it, by the runs it resumed. */
  written: number;
  writtenNow: number;
  failures: readonly Failure[];
  seconds: number;
}

export async function runImport(options: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const files = await listSources(options.paths);
  const state = await ImportState.open(options.statePath);
  const pending = files.filter((file) => !state.isComplete(file));
  const bar = new SingleBar({
    format: ' {bar} {percentage}% | {written} resources | {rate} resources/s | ETA {eta_formatted}',
    stream: options.out,
    noTTYOutput: !options.out.isTTY,
    notTTYSchedule: 5000,
    etaBuffer: 50,
  });
  let writtenNow = 0;
  bar.start(pending.reduce((sum, f) => sum + f.size, 0), 0, { written: 0, rate: 0 });
  const progress = (bytes: number) => {
    const seconds = (performance.now() - started) / 1000;
    bar.increment(bytes, { written: writtenNow.toLocaleString('en-US'), rate: Math.round(writtenNow / Math.max(seconds, 0.001)).toLocaleString('en-US') });
  };

  const units = allUnits(pending, state);
  const worker = async () => {
    for (;;) {
      const next = await units.next();
      if (next.done) return;
      const { written, failures } = await send(options.sink, next.value);
      writtenNow += written;
      await state.unitDone(next.value.file, next.value.unit, written, failures);
      progress(next.value.bytes);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
    for (const file of pending) await state.fileDone(file);
  } finally {
    bar.stop();
  }
  return { files: files.length, written: state.written, writtenNow, failures: state.failures, seconds: (performance.now() - started) / 1000 };
}

/** Every unit not done yet, file after file; a file that cannot be read becomes one failed unit. */
async function* allUnits(files: SourceFile[], state: ImportState): AsyncGenerator<ImportUnit | FailedUnit> {
  for (const file of files) {
    try {
      yield* unitsOf(file, (unit) => state.isDone(file, unit));
    } catch (error) {
      if (!(error instanceof UnitError)) throw error;
      yield { file, unit: 0, bytes: file.size, failed: error.message };
    }
  }
}

interface FailedUnit {
  file: SourceFile;
  unit: number;
  bytes: number;
  failed: string;
}

async function send(sink: Sink, unit: ImportUnit | FailedUnit): Promise<{ written: number; failures: Failure[] }> {
  const file = unit.file.path;
  if ('failed' in unit) return { written: 0, failures: [{ file, origin: 'file', status: '400', message: unit.failed }] };
  const failures: Failure[] = unit.unreadable.map(({ origin, message }) => ({ file, origin, status: '400', message }));
  const entries = (unit.bundle.entry as unknown[] | undefined) ?? [];
  if (!entries.length) return { written: 0, failures };
  const answer = await sink.send(unit.bundle, unit.text);
  if (!answer.ok) {
    const origin = unit.origins.length > 1 ? `${unit.origins[0]}–${unit.origins[unit.origins.length - 1]}` : (unit.origins[0] ?? 'file');
    return { written: 0, failures: [...failures, { file, origin, status: String(answer.status), message: answer.message }] };
  }
  let written = 0;
  (answer.bundle.entry ?? []).forEach((entry, i) => {
    const status = entry.response?.status ?? '';
    if (status.startsWith('2')) written++;
    else {
      const message = entry.response?.outcome && 'issue' in entry.response.outcome ? (entry.response.outcome.issue ?? []).map((issue) => issue.details?.text ?? issue.diagnostics ?? issue.code).join('; ') : status;
      failures.push({ file, origin: unit.origins[i] ?? `entry ${i}`, status: status.split(' ')[0], message });
    }
  });
  return { written, failures };
}

/** The summary printed at the end: totals, then each failure with where it came from and why. */
export function formatSummary(summary: ImportSummary, limit = 50): string {
  const lines = [
    `Imported ${summary.writtenNow.toLocaleString('en-US')} resources in ${summary.seconds.toFixed(1)} s` +
      ` (${Math.round(summary.writtenNow / Math.max(summary.seconds, 0.001)).toLocaleString('en-US')}/s) from ${summary.files} file${summary.files === 1 ? '' : 's'}` +
      (summary.written !== summary.writtenNow ? `; ${summary.written.toLocaleString('en-US')} in all with the earlier runs this one resumed` : ''),
  ];
  if (!summary.failures.length) lines.push('Nothing failed.');
  else {
    lines.push(`${summary.failures.length} failed:`);
    for (const f of summary.failures.slice(0, limit)) lines.push(`  ${f.file} ${f.origin}: ${f.status} ${f.message}`);
    if (summary.failures.length > limit) lines.push(`  … and ${summary.failures.length - limit} more (all of them are in the state file)`);
  }
  return lines.join('\n');
}
