import type { Logger } from 'pino';
import type { Auditor } from '../audit/auditor.js';
import { canonicalJson } from '../lib/canonical-json.js';
import { sha256Hex } from '../lib/digest.js';
import type { AuditRecord } from '../audit/record.js';
import { newRequestId } from '../lib/request-id.js';
import type { Reason } from '../pipeline/reasons.js';
import { pinsFileStamp, readPinsFile, updatePinsFile, type PinEntry, type PinsDocument } from './pinning-file.js';
import { DEFAULTS } from '../config/defaults.js';

/**
 * Tool pinning: a defence against an upstream MCP server that changes what a tool says or
 * accepts after it was reviewed (a "rug pull": a harmless description later rewritten to steer
 * the model). Each upstream tool's definition is hashed; the first hash seen is pinned (trust on
 * first use, audited as `tool-pinned`); a later, different definition is audited once as
 * `tool-definition-changed` and, per the upstream's `pinning`, blocked (hidden, not callable) or
 * flagged (still served) until an operator accepts it with `behalf tools accept`.
 */

/** The fields a pin covers: everything of a tool that reaches the client. */
export const PINNED_FIELDS = ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const;

/** `block`, `flag` or `off` (`upstreams[].pinning`). */
export type PinningMode = 'block' | 'flag' | 'off';

/** How the catalog must treat a tool: `undefined` is "as pinned". */
export type PinStatus = 'blocked' | 'flagged' | undefined;

/** One upstream tool to check: its catalog name, its pinned fields and their hash. */
export interface ReviewedTool {
  /** Catalog name (`hr.get_reviews`). */
  readonly name: string;
  /** {@link pinnedDefinition} of the tool as the upstream listed it. */
  readonly definition: Readonly<Record<string, unknown>>;
  /** {@link pinHash} of `definition`. */
  readonly hash: string;
}

/**
 * The pinned fields of a tool exactly as the upstream gave them (its own name, not the catalog
 * name): name, title, description, inputSchema, outputSchema and annotations (all keys of it,
 * known or not). Fields the upstream left out stay out. `_meta`, `icons` and `execution` are not
 * pinned: the gateway does not pass them to clients.
 */
export function pinnedDefinition(tool: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of PINNED_FIELDS) if (tool[field] !== undefined) out[field] = tool[field];
  return out;
}

/** Lowercase hex SHA-256 of the canonical JSON (RFC 8785 style, `audit/chain.ts`) of the pinned fields. */
export function pinHash(tool: Readonly<Record<string, unknown>>): string {
  return sha256Hex(canonicalJson(pinnedDefinition(tool)));
}

/** The pinned fields that differ between two definitions, e.g. `['description']`. */
export function changedFields(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): string[] {
  return PINNED_FIELDS.filter((f) => canonicalJson(a[f]) !== canonicalJson(b[f]));
}

/** The running gateway's view of the pins file. */
export interface ToolPins {
  /** Absolute path of the pins file. */
  readonly file: string;
  /**
   * Checks an upstream's freshly listed tools against the pins: pins tools never seen, records a
   * changed definition as pending, clears a pending change when the upstream went back to the
   * pinned definition. Each new pin and each change (a new pending hash) is audited and logged
   * once, persisted in the file so a restart does not audit it again. Resolves when the records
   * are written; never rejects (a failed write or audit is logged and kept in memory).
   */
  review(upstream: string, mode: 'block' | 'flag', tools: readonly ReviewedTool[]): Promise<void>;
  /** What to do with tool `name` whose current definition hashes to `hash`, under `mode`. */
  status(name: string, hash: string, mode: PinningMode): PinStatus;
  /** Re-reads the file if it changed on disk; resolves true when the pins changed. */
  reload(): Promise<boolean>;
  /** Called after the pins changed on disk (e.g. `behalf tools accept`); returns an unsubscribe. */
  onChange(cb: () => void): () => void;
  /** Stops watching the file. */
  close(): Promise<void>;
}

/** Options of {@link openToolPins}. */
export interface ToolPinsOptions {
  /** The pins file (see `toolPinsFile`). */
  readonly file: string;
  /** Where pin events are recorded (the gateway's audit trail). */
  readonly auditor?: Pick<Auditor, 'record'>;
  readonly logger?: Logger;
  /** Wall clock, epoch ms (default `Date.now`). */
  readonly now?: () => number;
  /** How often the file is checked for changes made by another process, ms; default 2000; 0 = never. */
  readonly pollMs?: number;
}

/** A fault's name and message for a log line (never a stack); like the pipeline's, without importing it. */
function errorSummary(err: unknown): { name: string; message: string } {
  return err instanceof Error ? { name: err.name, message: err.message } : { name: 'unknown', message: String(err) };
}

type PinEvent = { kind: 'pinned' | 'changed' | 'restored'; name: string; upstream: string; from?: string; to: string; fields?: string[] };

const short = (hash: string) => hash.slice(0, 8);

/** Applies one upstream's listing to `doc`; returns the new document (or undefined) and the events. */
function applyReview(doc: PinsDocument, upstream: string, tools: readonly ReviewedTool[], at: string): { next?: PinsDocument; events: PinEvent[] } {
  const next = new Map(doc.tools);
  const events: PinEvent[] = [];
  for (const tool of tools) {
    const entry = next.get(tool.name);
    if (entry === undefined) {
      next.set(tool.name, { upstream, hash: tool.hash, pinnedAt: at, definition: tool.definition });
      events.push({ kind: 'pinned', name: tool.name, upstream, to: tool.hash });
    } else if (entry.hash === tool.hash) {
      if (entry.pending === undefined) continue;
      const { pending: _dropped, ...kept } = entry;
      next.set(tool.name, kept);
      events.push({ kind: 'restored', name: tool.name, upstream, to: tool.hash });
    } else if (entry.pending?.hash !== tool.hash) {
      const pending = { hash: tool.hash, seenAt: at, definition: tool.definition };
      next.set(tool.name, { ...entry, pending } satisfies PinEntry);
      events.push({ kind: 'changed', name: tool.name, upstream, from: entry.hash, to: tool.hash, fields: changedFields(entry.definition, tool.definition) });
    }
  }
  return events.length === 0 ? { events } : { next: { tools: next }, events };
}

/**
 * Loads the pins file (an absent file is empty) and starts watching it for changes made by
 * `behalf tools accept` (a stat every `pollMs`; the gateway also re-reads it before each review).
 * Throws `tool-pins-invalid` when the file exists but cannot be read or parsed: the gateway must
 * not start with pins it cannot check.
 *
 * This does NOT contact any upstream, and does NOT make trust on first use safe: the first
 * definition an upstream serves is pinned without review (audited as `tool-pinned`, so an
 * operator can review new tools with `behalf tools pins`). It does NOT pin tools of upstreams
 * with `pinning: off`.
 */
export async function openToolPins(opts: ToolPinsOptions): Promise<ToolPins> {
  const { file, auditor, logger } = opts;
  const now = opts.now ?? Date.now;
  let doc = await readPinsFile(file);
  let stamp = await pinsFileStamp(file);
  const listeners = new Set<() => void>();
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const run = queue.then(op, op);
    queue = run.catch(() => undefined);
    return run;
  };

  const notify = () => {
    for (const cb of listeners) {
      try {
        cb();
      } catch (err) {
        logger?.error({ err: errorSummary(err) }, 'tool pins listener failed');
      }
    }
  };

  const reloadNow = async (): Promise<boolean> => {
    const current = await pinsFileStamp(file);
    if (current === stamp) return false;
    let fresh: PinsDocument;
    try {
      fresh = await readPinsFile(file);
    } catch (err) {
      logger?.warn({ err: errorSummary(err), file }, 'tool pins file unreadable; keeping the pins in memory');
      return false;
    }
    stamp = current;
    const changed = canonicalJson(Object.fromEntries(fresh.tools)) !== canonicalJson(Object.fromEntries(doc.tools));
    doc = fresh;
    return changed;
  };

  const record = async (ev: PinEvent, mode: 'block' | 'flag') => {
    const blocked = ev.kind === 'changed' && mode === 'block';
    const reason: Reason = ev.kind === 'pinned' ? 'tool-pinned' : 'tool-definition-changed';
    const detail =
      ev.kind === 'pinned'
        ? `upstream ${ev.upstream}: first seen, pinned ${short(ev.to)}`
        : `upstream ${ev.upstream}: pinned ${short(ev.from ?? '')} now ${short(ev.to)} (${(ev.fields ?? []).join(', ') || 'definition'} changed); ${blocked ? 'blocked' : 'flagged'}`;
    const log = { tool: ev.name, upstream: ev.upstream, pin: short(ev.from ?? ev.to), now: short(ev.to), fields: ev.fields };
    if (ev.kind === 'pinned') logger?.info(log, 'upstream tool pinned on first sight');
    else logger?.warn(log, blocked ? 'upstream tool definition changed: blocked until accepted' : 'upstream tool definition changed: flagged');
    if (auditor === undefined) return;
    const rec: AuditRecord = {
      time: new Date(now()).toISOString(),
      requestId: newRequestId(),
      door: 'mcp',
      tool: ev.name,
      method: 'tools/list',
      path: `upstream:${ev.upstream}`,
      rpcMethod: 'tools/list',
      upstream: ev.upstream,
      decision: blocked ? 'deny' : 'allow',
      reason,
      status: 0,
      latencyMs: 0,
      detail,
    };
    try {
      await auditor.record(rec, { durability: 'synced' });
    } catch (err) {
      logger?.error({ err: errorSummary(err), tool: ev.name }, 'tool pin event could not be audited');
    }
  };

  const review = (upstream: string, mode: 'block' | 'flag', tools: readonly ReviewedTool[]) =>
    serial(async () => {
      if (await reloadNow()) notify();
      const at = new Date(now()).toISOString();
      if (applyReview(doc, upstream, tools, at).next === undefined) return;
      let events: PinEvent[] = [];
      try {
        doc = await updatePinsFile(file, (onDisk) => {
          const r = applyReview(onDisk, upstream, tools, at);
          events = r.events;
          return r.next;
        });
        stamp = await pinsFileStamp(file);
      } catch (err) {
        // Keep serving from memory: a change is then audited once per process instead of once.
        logger?.error({ err: errorSummary(err), file }, 'tool pins file could not be updated');
        const r = applyReview(doc, upstream, tools, at);
        events = r.events;
        if (r.next !== undefined) doc = r.next;
      }
      for (const ev of events) {
        if (ev.kind === 'restored') logger?.info({ tool: ev.name, upstream, pin: short(ev.to) }, 'upstream tool back to its pinned definition');
        else await record(ev, mode);
      }
    });

  const pollMs = opts.pollMs ?? DEFAULTS.toolPinsPollMs;
  let polling = false;
  const timer =
    pollMs > 0
      ? setInterval(() => {
          if (polling) return;
          polling = true;
          void serial(reloadNow)
            .then((changed) => changed && notify())
            .finally(() => {
              polling = false;
            });
        }, pollMs)
      : undefined;
  timer?.unref();

  return {
    file,
    review,
    status(name, hash, mode) {
      if (mode === 'off') return undefined;
      const entry = doc.tools.get(name);
      if (entry === undefined || entry.hash === hash) return undefined;
      return mode === 'block' ? 'blocked' : 'flagged';
    },
    reload: async () => {
      const changed = await serial(reloadNow);
      if (changed) notify();
      return changed;
    },
    onChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    close: async () => {
      if (timer !== undefined) clearInterval(timer);
      listeners.clear();
      await queue;
    },
  };
}
