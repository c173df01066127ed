import assert from 'node:assert/strict';
import { readdir, readFile, unlink, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { computeRecordHash, sealRecord } from '../../src/audit/chain.js';
import { openFileAuditStore } from '../../src/audit/file-store.js';
import { readLinesOf, rec, tempDir, writeLines, writeTrail } from './helpers.js';

/** One tampering step, as written in vectors/tamper.json. */
interface Op {
  op: 'edit' | 'delete' | 'swap' | 'move' | 'insert-copy' | 'insert-forged' | 'replace' | 'delete-head' | 'write-head' | 'delete-file' | 'append-raw';
  file?: number;
  toFile?: number;
  line?: number;
  lines?: number[];
  from?: number;
  to?: number;
  after?: number;
  set?: Record<string, unknown>;
  rehash?: boolean;
  rechain?: boolean;
  text?: string;
}
interface Case {
  name: string;
  records: number;
  segmented?: boolean;
  ops: Op[];
  expect: { ok?: boolean; kind?: string; seq?: number; file?: number; line?: number; records?: number; message?: string; warning?: string };
}

const vectors = JSON.parse(await readFile(new URL('./vectors/tamper.json', import.meta.url), 'utf8')) as { cases: Case[] };

function rehashed(obj: Record<string, unknown>): Record<string, unknown> {
  return { ...obj, hash: computeRecordHash(obj) };
}

async function apply(dir: string, files: string[], op: Op): Promise<void> {
  const path = (i: number | undefined) => join(dir, files[i ?? 0]!);
  if (op.op === 'delete-head') return unlink(join(dir, 'head.json'));
  if (op.op === 'write-head') return writeFile(join(dir, 'head.json'), op.text!);
  if (op.op === 'delete-file') return unlink(path(op.file));
  if (op.op === 'append-raw') return appendFile(path(op.file), op.text!);
  const lines = await readLinesOf(path(op.file));
  switch (op.op) {
    case 'edit': {
      let obj: Record<string, unknown> = { ...JSON.parse(lines[op.line! - 1]!), ...op.set };
      if (op.rehash === true) obj = rehashed(obj);
      lines[op.line! - 1] = JSON.stringify(obj);
      for (let i = op.line!; op.rechain === true && i < lines.length; i++) {
        const next = rehashed({ ...JSON.parse(lines[i]!), prev: obj.hash });
        lines[i] = JSON.stringify(next);
        obj = next;
      }
      break;
    }
    case 'delete':
      for (const l of [...op.lines!].sort((a, b) => b - a)) lines.splice(l - 1, 1);
      break;
    case 'swap': {
      const [a, b] = op.lines!.map((l) => l - 1) as [number, number];
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      break;
    }
    case 'move': {
      const [moved] = lines.splice(op.from! - 1, 1);
      if (op.toFile === undefined || op.toFile === op.file) lines.splice(op.to! - 1, 0, moved!);
      else {
        const target = await readLinesOf(path(op.toFile));
        target.splice(op.to! - 1, 0, moved!);
        await writeLines(path(op.toFile), target);
      }
      break;
    }
    case 'insert-copy':
      lines.splice(op.after!, 0, lines[op.from! - 1]!);
      break;
    case 'insert-forged': {
      const before = JSON.parse(lines[op.after! - 1]!) as { seq: number; hash: string };
      lines.splice(op.after!, 0, sealRecord(rec(99, { user: 'alice', reason: 'allowed-by-rule' }), before.seq, before.hash).line);
      break;
    }
    case 'replace':
      lines[op.line! - 1] = op.text!;
      break;
  }
  await writeLines(path(op.file), lines);
}

for (const c of vectors.cases) {
  test(`verify: ${c.name}`, async () => {
    const dir = await tempDir();
    await writeTrail(dir, c.records, c.segmented === true ? { segmentBytes: 1, batchRecords: 4 } : {});
    const files = (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort();
    if (c.segmented === true) assert.equal(files.length, Math.ceil(c.records / 4));
    for (const op of c.ops) await apply(dir, files, op);

    const store = await openFileAuditStore(dir, { readOnly: true });
    const result = await store.verify();
    const e = c.expect;
    if (e.ok === true) {
      assert.equal(result.ok, true, JSON.stringify(result));
    } else {
      assert.equal(result.ok, false, `tampering went unnoticed: ${JSON.stringify(result)}`);
      assert.equal(result.problem?.kind, e.kind, JSON.stringify(result.problem));
      assert.equal(result.problem?.seq, e.seq, JSON.stringify(result.problem));
      if (e.file !== undefined) assert.equal(result.problem?.file, files[e.file]);
      if (e.line !== undefined) assert.equal(result.problem?.line, e.line, JSON.stringify(result.problem));
      if (e.message !== undefined) assert.match(result.problem?.message ?? '', new RegExp(e.message));
    }
    if (e.records !== undefined) assert.equal(result.records, e.records);
    if (e.warning !== undefined) assert.ok(result.warnings?.some((w) => w.includes(e.warning!)), JSON.stringify(result.warnings));
  });
}
