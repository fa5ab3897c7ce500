// Messages between the benchmark (which runs the server) and its load-generator child processes.

/** What a child process is asked to do; it answers with one PhaseResult and exits. */
export type Job =
  | { kind: 'http-create'; origin: string; basePath: string; patientId: string; connections: number; seconds: number; warmupSeconds: number }
  | { kind: 'http-read'; origin: string; basePath: string; ids: string[]; connections: number; seconds: number; warmupSeconds: number; bearer?: string }
  | { kind: 'raw-insert'; databaseUrl: string; table: string; patientId: string; connections: number; seconds: number; warmupSeconds: number }
  | { kind: 'raw-select'; databaseUrl: string; table: string; ids: string[]; connections: number; seconds: number; warmupSeconds: number };

export interface PhaseResult {
  /** Successful operations (201 for creates, 200 for reads, a completed statement for SQL). */
  ok: number;
  /** HTTP responses that were not what was expected (non-2xx, or 2xx other than expected). */
  unexpected: number;
  /** Status codes of those responses, with their counts. */
  unexpectedByStatus: Record<string, number>;
  /** Connection errors, timeouts, failed statements. */
  errors: number;
  /** Measured time in seconds (warm-up excluded). */
  seconds: number;
  /** Successful operations per second over the measured time. */
  perSecond: number;
  /** Latency in milliseconds of successful operations. */
  p50: number;
  p99: number;
  mean: number;
  /** CPU time the child itself used during the measured time, in seconds (user + system). */
  childCpuSeconds: number;
  /** A first error message, if any, to help tell what went wrong. */
  firstError?: string;
}

export type ChildMessage =
  /** The warm-up is over: the measured time starts now. */
  | { type: 'measuring' }
  /** The measured time is over (sent before the child closes its connections). */
  | { type: 'measured' }
  | { type: 'result'; result: PhaseResult }
  | { type: 'failed'; message: string };

/** Called by a load generator when its measured time starts and ends. */
export interface Marks {
  measuring(): void;
  measured(): void;
}
