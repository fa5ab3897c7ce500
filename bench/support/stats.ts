// Latency figures from raw samples (milliseconds).

export function summarize(samples: number[]): { p50: number; p99: number; mean: number } {
  if (samples.length === 0) return { p50: NaN, p99: NaN, mean: NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  let sum = 0;
  for (const value of sorted) sum += value;
  return { p50: at(0.5), p99: at(0.99), mean: sum / sorted.length };
}

export function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

/**
 * CPU time so far, from /proc (Linux): of the whole machine (busy and total, all CPUs) and of each
 * process named `postgres` (when Postgres runs on this machine). In clock ticks; undefined where
 * /proc is not readable.
 */
export interface CpuSnapshot {
  busy: number;
  total: number;
  /** Ticks used so far by each Postgres process, by pid. */
  postgres: Map<string, number>;
  /** Ticks used so far by each process of the server under test, by pid. */
  server: Map<string, number>;
}

async function processTicks(serverPids: Set<string>): Promise<{ postgres: Map<string, number>; server: Map<string, number> }> {
  const { readdir, readFile } = await import('node:fs/promises');
  const ticks = { postgres: new Map<string, number>(), server: new Map<string, number>() };
  for (const pid of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(pid)) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const isServer = serverPids.has(pid);
      if (!isServer && stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' ');
      // utime and stime: fields 14 and 15 of the line, 12 and 13 after the command name.
      (isServer ? ticks.server : ticks.postgres).set(pid, Number(fields[11]) + Number(fields[12]));
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks;
}

export async function cpuSnapshot(serverPids: number[] = []): Promise<CpuSnapshot | undefined> {
  try {
    const { readFile } = await import('node:fs/promises');
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0];
    // user nice system idle iowait irq softirq steal (guest time is already counted in user).
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = ticks.reduce((sum, value) => sum + value, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { busy: total - idle, total, ...(await processTicks(new Set(serverPids.map(String)))) };
  } catch {
    return undefined;
  }
}

/**
 * Average cores used between two snapshots: by the whole machine, and by Postgres processes
 * alive at the end (a backend that exited in between is missed, so Postgres may be undercounted).
 */
export function coresBetween(
  from: CpuSnapshot | undefined,
  to: CpuSnapshot | undefined,
  cores: number,
): { machine: number; postgres: number; server: number } {
  if (!from || !to || to.total === from.total) return { machine: NaN, postgres: NaN, server: NaN };
  const perTick = cores / (to.total - from.total);
  const used = (before: Map<string, number>, after: Map<string, number>) => {
    let sum = 0;
    for (const [pid, ticks] of after) sum += Math.max(0, ticks - (before.get(pid) ?? 0));
    return sum * perTick;
  };
  return { machine: (to.busy - from.busy) * perTick, postgres: used(from.postgres, to.postgres), server: used(from.server, to.server) };
}
