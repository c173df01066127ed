/** The audit store contract against the embedded file store (one segment file per trail). */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { computeRecordHash } from '../../src/audit/chain.js';
import { openFileAuditStore } from '../../src/audit/file-store.js';
import { readLinesOf, writeLines } from '../audit/helpers.js';
import { auditStoreContract, type TrailUnderTest } from './audit-contract.js';

// One folder for the file's trails, removed by a hook registered at the top level (a hook
// registered from inside the file's last test may not run).
const base = await mkdtemp(join(tmpdir(), 'behalf-contract-'));
after(() => rm(base, { recursive: true, force: true }));
let trails = 0;

async function segment(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort();
  if (names.length !== 1) throw new Error(`expected one segment in ${dir}, found ${names.length}`);
  return join(dir, names[0]!);
}

/** Rewrite the segment's lines with `change` (lines are records 1..n in order). */
async function rewrite(dir: string, change: (lines: string[]) => void): Promise<void> {
  const path = await segment(dir);
  const lines = await readLinesOf(path);
  change(lines);
  await writeLines(path, lines);
}

auditStoreContract({
  name: 'file store',
  async fresh(): Promise<TrailUnderTest> {
    const dir = join(base, `trail-${++trails}`);
    return {
      open: () => openFileAuditStore(dir, { flushMs: 1 }),
      openReader: () => openFileAuditStore(dir, { readOnly: true, pollMs: 20 }),
      edit: (seq, set, opts) =>
        rewrite(dir, (lines) => {
          const obj: Record<string, unknown> = { ...JSON.parse(lines[seq - 1]!), ...set };
          if (opts?.rehash === true) obj.hash = computeRecordHash(obj);
          lines[seq - 1] = JSON.stringify(obj);
        }),
      remove: (seq) => rewrite(dir, (lines) => void lines.splice(seq - 1, 1)),
      swap: (a, b) =>
        rewrite(dir, (lines) => {
          [lines[a - 1], lines[b - 1]] = [lines[b - 1]!, lines[a - 1]!];
        }),
    };
  },
});
