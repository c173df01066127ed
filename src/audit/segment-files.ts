import { createReadStream } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BehalfError } from '../errors.js';

/**
 * The file store's on-disk layout: JSON Lines segment files named after the sequence number of
 * their first record, so lexical order is trail order and a missing file shows as a gap.
 */

const SEGMENT_RE = /^segment-(\d{16})\.jsonl$/;

/** One segment file of an audit directory. */
export interface Segment {
  /** File name, e.g. `segment-0000000000000001.jsonl`. */
  readonly name: string;
  readonly path: string;
  /** `seq` of the first record the file was created for (from its name). */
  readonly firstSeq: number;
}

/** File name of the segment whose first record is `firstSeq`. */
export function segmentName(firstSeq: number): string {
  return `segment-${String(firstSeq).padStart(16, '0')}.jsonl`;
}

/**
 * The segment files of `dir`, oldest first. Other files (head, lock, temporaries) are ignored.
 * Throws `audit-read-failed` when the directory cannot be read.
 */
export async function listSegments(dir: string): Promise<Segment[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new BehalfError('audit-read-failed', `cannot read the audit directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  const segments: Segment[] = [];
  for (const name of names.sort()) {
    const m = SEGMENT_RE.exec(name);
    if (m?.[1] !== undefined) segments.push({ name, path: join(dir, name), firstSeq: Number(m[1]) });
  }
  return segments;
}

/** One line of a segment file, with its byte range and 1-based line number. */
export interface RawLine {
  readonly text: string;
  /** 1-based line number (relative to `firstLine` when reading from an offset). */
  readonly line: number;
  /** Byte offset of the line's first byte. */
  readonly start: number;
  /** Byte offset just past the line's newline (or past the last byte when unterminated). */
  readonly end: number;
  /** False for a final fragment with no newline: a write in progress or torn by a crash. */
  readonly terminated: boolean;
}

/**
 * Stream the lines of `path` from byte `start` (default 0) to `end` (exclusive, default: the
 * end of the file at read time). A trailing fragment without newline is yielded last with
 * `terminated: false`. Reads 1 MiB at a time; memory is bounded by the longest line.
 */
export async function* readLines(path: string, opts: { start?: number; end?: number; firstLine?: number } = {}): AsyncGenerator<RawLine> {
  const start = opts.start ?? 0;
  if (opts.end !== undefined && opts.end <= start) return;
  const stream = createReadStream(path, { start, end: opts.end === undefined ? undefined : opts.end - 1, highWaterMark: 1 << 20 });
  let lineNo = opts.firstLine ?? 1;
  let offset = start;
  let carry: Buffer[] = [];
  let carryLen = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      if (nl === -1) break;
      let bytes = chunk.subarray(from, nl);
      if (carryLen > 0) {
        bytes = Buffer.concat([...carry, bytes]);
        carry = [];
        carryLen = 0;
      }
      const end = offset + bytes.length + 1;
      yield { text: bytes.toString('utf8'), line: lineNo++, start: offset, end, terminated: true };
      offset = end;
      from = nl + 1;
    }
    if (from < chunk.length) {
      carry.push(chunk.subarray(from));
      carryLen += chunk.length - from;
    }
  }
  if (carryLen > 0) {
    yield { text: Buffer.concat(carry).toString('utf8'), line: lineNo, start: offset, end: offset + carryLen, terminated: false };
  }
}

/** The end of a segment file: its last complete line and any unterminated fragment after it. */
export interface SegmentTail {
  /** File size in bytes at inspection time. */
  readonly size: number;
  /** Byte offset just past the last newline (0 when there is none). */
  readonly completeEnd: number;
  readonly lastLine?: { readonly text: string; readonly start: number };
  readonly fragment?: { readonly text: string; readonly start: number };
}

const TAIL_CHUNK = 64 * 1024;

/**
 * Look at the end of a segment without reading the whole file: reads backwards 64 KiB at a time
 * until the last two newlines (or the start of the file) are found.
 */
export async function inspectTail(path: string): Promise<SegmentTail> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const newlines: number[] = [];
    let pos = size;
    while (pos > 0 && newlines.length < 2) {
      const from = Math.max(0, pos - TAIL_CHUNK);
      const buf = Buffer.alloc(pos - from);
      const { bytesRead } = await fh.read(buf, 0, buf.length, from);
      for (let i = bytesRead - 1; i >= 0 && newlines.length < 2; i--) if (buf[i] === 0x0a) newlines.push(from + i);
      pos = from;
    }
    const readRange = async (s: number, e: number): Promise<string> => {
      const buf = Buffer.alloc(e - s);
      await fh.read(buf, 0, buf.length, s);
      return buf.toString('utf8');
    };
    const lastNl = newlines[0] ?? -1;
    const completeEnd = lastNl + 1;
    const result: { size: number; completeEnd: number; lastLine?: { text: string; start: number }; fragment?: { text: string; start: number } } = {
      size,
      completeEnd,
    };
    if (completeEnd < size) result.fragment = { text: await readRange(completeEnd, size), start: completeEnd };
    if (lastNl >= 0) {
      const lineStart = (newlines[1] ?? -1) + 1;
      result.lastLine = { text: await readRange(lineStart, lastNl), start: lineStart };
    }
    return result;
  } finally {
    await fh.close();
  }
}
