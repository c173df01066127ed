// The group-commit queue's own cost per record (src/audit/batch-queue.ts), storage left out:
// write and sync do nothing, 32 requests each push one record and wait for it (as 32
// connections do), over and over. Also the same wait through the auditor (createAuditor), which
// adds its health bookkeeping. Prints ns per record.
//   node --import tsx bench/micro/audit-queue.ts [--root <worktree>]
import { rootArg } from './measure.js';

const root = rootArg();
const { BatchQueue } = (await import(`${root}/src/audit/batch-queue.ts`)) as typeof import('../../src/audit/batch-queue.js');
const { createAuditor } = (await import(`${root}/src/audit/auditor.ts`)) as typeof import('../../src/audit/auditor.js');
console.log(`audit queue, code from ${root}`);

const rec = { time: 't', requestId: 'r', door: 'http', method: 'GET', path: '/', decision: 'allow', reason: 'allowed', status: 200, latencyMs: 1 } as const;
const CONCURRENT = 32;

async function loop(name: string, push: () => Promise<void>): Promise<void> {
  const round = async (n: number) => {
    const t = process.hrtime.bigint();
    let done = 0;
    await Promise.all(Array.from({ length: CONCURRENT }, async () => {
      while (done < n) {
        done++;
        await push();
      }
    }));
    return Number(process.hrtime.bigint() - t) / n;
  };
  await round(200_000);
  const results: number[] = [];
  for (let i = 0; i < 5; i++) results.push(await round(500_000));
  results.sort((a, b) => a - b);
  console.log(`${name.padEnd(48)} ${results[0]!.toFixed(1).padStart(9)} ns/op  (median ${results[2]!.toFixed(1)})`);
}

for (const durability of ['written', 'synced'] as const) {
  const q = new BatchQueue({ flushMs: 0, syncIntervalMs: 1000, maxBatch: 512, write: async () => {}, sync: async () => {} });
  await loop(`queue.push([rec], '${durability}')`, () => q.push([rec], durability));
  await q.close();
}
const q = new BatchQueue({ flushMs: 0, syncIntervalMs: 1000, maxBatch: 512, write: async () => {}, sync: async () => {} });
const store: Pick<import('../../src/stores/types.js').AuditStore, 'append' | 'close'> = { append: (records, o) => q.push(records, o?.durability), close: () => q.close() };
const auditor = createAuditor(store as import('../../src/stores/types.js').AuditStore);
await loop("auditor.record(rec, 'written')", () => auditor.record(rec, { durability: 'written' }));
await auditor.close();
