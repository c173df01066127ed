import type { Logger } from 'pino';
import type { AuditConfig } from '../config/schema.js';
import type { SigningKeys } from '../forward/identity/signing-keys.js';
import { errorSummary } from '../lib/error-summary.js';
import type { AuditCheckpoints } from '../stores/types.js';
import { signCheckpoint, type CheckpointSink } from './checkpoint-format.js';
import { createCheckpointWebhook } from './checkpoint-webhook.js';

/** Options of {@link startCheckpointer}. */
export interface CheckpointerOptions {
  /** Sign after this many records, at most (`audit.checkpoints.everyRecords`). */
  readonly everyRecords: number;
  /** Sign at least this often while records arrive, ms (`audit.checkpoints.everySeconds` × 1000). */
  readonly everyMs: number;
  /** Clock, epoch ms. Default `Date.now`. */
  readonly now?: () => number;
  readonly logger?: Logger;
  readonly sink?: CheckpointSink;
}

/** The gateway's checkpointing: told about every record, signs the durable head now and then. */
export interface Checkpointer {
  /** One more record was appended (cheap: a counter; may start a checkpoint in the background). */
  noted(): void;
  /**
   * Sign the head now if it moved since the last checkpoint; resolves when stored (or failed and
   * logged). `settle`: first wait (briefly) for records already written to become durable.
   */
  checkpoint(settle?: boolean): Promise<void>;
  /** Counters for tests and metrics. */
  readonly stats: { signed: number; failed: number };
  /** Stop the timer and sign a last checkpoint of the durable head. Call before the store closes. */
  close(): Promise<void>;
}

/**
 * Signs the durable chain head (`seq`, `hash`, time) with the gateway's current signing key every
 * `everyRecords` records or `everyMs`, whichever comes first, and once at start and at close;
 * stores each checkpoint next to the trail and hands it to `sink`. Nothing waits for it: requests
 * never do, and a checkpoint that cannot be signed or stored is logged at `error` and retried
 * with the next one (a newer checkpoint covers everything an older one did).
 *
 * This does NOT sign records that are not yet durable (they are covered by the next checkpoint),
 * and does NOT make the trail tamper-proof against a holder of the signing key.
 */
export function startCheckpointer(store: AuditCheckpoints, keys: SigningKeys, opts: CheckpointerOptions): Checkpointer {
  const now = opts.now ?? Date.now;
  const stats = { signed: 0, failed: 0 };
  let lastSeq = -1;
  let count = 0;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;

  const once = async (settle = false): Promise<void> => {
    try {
      const head = await store.durableHead({ settle });
      if (head.seq <= lastSeq || head.seq === 0) {
        lastSeq = Math.max(lastSeq, head.seq);
        return;
      }
      const { kid, key } = keys.current();
      const cp = await signCheckpoint(head, now(), { alg: keys.alg, kid, key });
      await store.append(cp);
      lastSeq = head.seq;
      stats.signed++;
      opts.sink?.push(cp);
    } catch (err) {
      stats.failed++;
      opts.logger?.error({ err: errorSummary(err) }, 'audit checkpoint could not be signed or stored; the next one will cover its records');
    }
  };

  /** `settle`: first let the records written so far become durable, so the checkpoint covers them. */
  const checkpoint = (settle = false): Promise<void> => {
    if (running !== undefined) {
      again = true;
      return running;
    }
    count = 0;
    running = (async () => {
      do {
        again = false;
        await once(settle);
      } while (again && !closed);
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => void checkpoint(), opts.everyMs);
  timer.unref();
  void checkpoint();

  return {
    stats,
    noted() {
      if (++count >= opts.everyRecords && !closed) void checkpoint(true);
    },
    checkpoint,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await running;
      await once(true);
      await opts.sink?.close();
    },
  };
}

/**
 * The checkpointer `audit.checkpoints` asks for over `store`, with its webhook sink if one is
 * configured; `undefined` when checkpoints are off or the store keeps none (an injected store).
 */
export function checkpointerFromConfig(
  store: { readonly checkpoints?: AuditCheckpoints },
  keys: SigningKeys,
  cfg: AuditConfig['checkpoints'],
  opts: { now?: () => number; logger?: Logger; fetch?: typeof fetch } = {},
): Checkpointer | undefined {
  if (!cfg.enabled || store.checkpoints === undefined) return undefined;
  const sink = cfg.webhook === undefined ? undefined : createCheckpointWebhook(cfg.webhook, { ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.fetch ? { fetch: opts.fetch } : {}) });
  return startCheckpointer(store.checkpoints, keys, {
    everyRecords: cfg.everyRecords,
    everyMs: cfg.everySeconds * 1_000,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(sink ? { sink } : {}),
  });
}
