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

/** CPU time of the whole machine so far, from /proc/stat (Linux); undefined elsewhere. */
export interface MachineCpu {
  busy: number;
  total: number;
}

export async function machineCpu(): Promise<MachineCpu | undefined> {
  try {
    const { readFile } = await import('node:fs/promises');
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0];
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const total = ticks.reduce((sum, value) => sum + value, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** How many cores the machine kept busy between two snapshots, on average. */
export function busyCores(from: MachineCpu | undefined, to: MachineCpu | undefined, cores: number): number {
  if (!from || !to || to.total === from.total) return NaN;
  return ((to.busy - from.busy) / (to.total - from.total)) * cores;
}
