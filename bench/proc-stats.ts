// Readings from /proc for the benchmark: CPU per process and for the whole machine, and RSS.
import { readFile } from 'node:fs/promises';

/** CPU time (user + system) a process has used so far, ms. */
export async function cpuMs(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100/s)
  return ticks * 10;
}

/**
 * CPU time the machine's CPUs spent on processes so far, plus time the hypervisor stole, ms (from
 * /proc/stat; 0 where there is none). Interrupt time is left out: much of it is this benchmark's
 * own loopback traffic, which no process is charged for.
 */
export async function machineBusyMs(): Promise<number> {
  const fields = (await readFile('/proc/stat', 'utf8').catch(() => 'cpu 0')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = fields;
  return (user + nice + system + steal) * 10;
}

/** Resident memory of a process, MB. */
export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}
