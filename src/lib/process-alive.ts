/**
 * True when a process with this pid exists: signal 0 checks without sending anything. EPERM
 * means it exists but belongs to someone else.
 *
 * This does NOT tell whether it is the process that wrote the pid: pids are reused.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
