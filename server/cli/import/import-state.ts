// What `kiln import` has written so far, kept in a small JSON file after every unit, so that an
// import stopped for any reason resumes where it was. A file that changed since starts over.
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { SourceFile } from './sources.js';

export interface Failure {
  file: string;
  /** `entry 3`, `line 1207`, or `file` when the whole unit failed. */
  origin: string;
  status: string;
  message: string;
}

interface FileState {
  size: number;
  mtimeMs: number;
  units: number[];
  complete: boolean;
}

interface StateData {
  version: 1;
  files: Record<string, FileState>;
  failures: Failure[];
  written: number;
}

export class ImportState {
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly data: StateData,
  ) {}

  static async open(path: string): Promise<ImportState> {
    try {
      const data = JSON.parse(await readFile(path, 'utf8')) as StateData;
      if (data.version === 1 && data.files && Array.isArray(data.failures)) return new ImportState(path, data);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${path} is not an import state file (${(error as Error).message}); remove it to start over`);
    }
    return new ImportState(path, { version: 1, files: {}, failures: [], written: 0 });
  }

  private fileState(file: SourceFile): FileState {
    let state = this.data.files[file.path];
    if (!state || state.size !== file.size || state.mtimeMs !== file.mtimeMs) {
      state = { size: file.size, mtimeMs: file.mtimeMs, units: [], complete: false };
      this.data.files[file.path] = state;
      this.data.failures = this.data.failures.filter((f) => f.file !== file.path);
    }
    return state;
  }

  isComplete(file: SourceFile): boolean {
    return this.fileState(file).complete;
  }

  isDone(file: SourceFile, unit: number): boolean {
    return this.fileState(file).units.includes(unit);
  }

  get failures(): readonly Failure[] {
    return this.data.failures;
  }

  get written(): number {
    return this.data.written;
  }

  unitDone(file: SourceFile, unit: number, written: number, failures: Failure[]): Promise<void> {
    this.fileState(file).units.push(unit);
    this.data.written += written;
    this.data.failures.push(...failures);
    return this.save();
  }

  fileDone(file: SourceFile): Promise<void> {
    const state = this.fileState(file);
    state.complete = true;
    state.units = [];
    return this.save();
  }

  /** Written to a new file, then renamed over the old one: a crash leaves one or the other whole. */
  private save(): Promise<void> {
    const text = JSON.stringify(this.data);
    this.saving = this.saving.then(async () => {
      await writeFile(`${this.path}.tmp`, text);
      await rename(`${this.path}.tmp`, this.path);
    });
    return this.saving;
  }
}
