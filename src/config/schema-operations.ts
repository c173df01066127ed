import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { headerName, id, keepSetting, method, toolPattern } from './schema-fields.js';
import { auditSinksSchema } from './schema-sinks.js';

/**
 * The config sections about running behalf rather than what it serves: the audit trail, limits,
 * revocation and the admin API. Part of the one schema in schema.ts, which re-exports them.
 */

export const auditSchema = z.strictObject({
  /** A directory path or `file:<dir>` (embedded store), or a `postgres://` URL (PostgreSQL). */
  store: z.string().min(1).default(DEFAULTS.auditDir),
  /** Keep query values in the record's `path` as sent (no bound, no credential check); `routes[].audit.query` is the finer way. */
  includeQueryValues: z.boolean().default(false),
  /** What records keep of tool and prompt arguments, for tools and upstreams that set nothing (`tools[].audit.arguments`, `upstreams[].audit.arguments`). */
  arguments: keepSetting.default(DEFAULTS.auditKeepArguments),
  /** What records of route requests keep of the query, for routes that set nothing (`routes[].audit.query`). */
  query: keepSetting.default(DEFAULTS.auditKeepQuery),
  /** When a record cannot be written: writes always fail closed (503); reads follow this. */
  onFailureForReads: z.enum(['deny', 'allow']).default(DEFAULTS.auditOnFailureForReads),
  /**
   * Which responses wait for their record to be fsynced (safe from a power loss). Every response
   * waits for its record to be written (safe from a crash of the gateway), and every batch is
   * fsynced. `changes`: requests that may change data (not GET/HEAD/OPTIONS); `all`; `none`.
   */
  syncBeforeResponse: z.enum(['changes', 'all', 'none']).default(DEFAULTS.auditSyncBeforeResponse),
  flushMs: z.number().int().min(0).max(1_000).default(DEFAULTS.auditFlushMs),
  /**
   * Records whose response does not wait for the fsync are fsynced within this time, ms: the
   * most a power loss (not a crash of the gateway) can take from the trail.
   */
  syncIntervalMs: z.number().int().min(0).max(10_000).default(DEFAULTS.auditSyncIntervalMs),
  /**
   * PostgreSQL store only: while the database cannot be reached, records are appended to this
   * local spool (fsynced like the embedded store) and shipped in order when it returns.
   */
  spool: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Folder of this instance's spool (relative to the config file); one per instance, never shared. */
      dir: z.string().min(1).default(DEFAULTS.auditSpoolDir),
      /** Past this many bytes waiting, appends fail (the pipeline fails closed). */
      maxBytes: z.number().int().min(1_048_576).default(DEFAULTS.auditSpoolMaxBytes),
    })
    .prefault({}),
  /** Copies of every record as it is written, for a SIEM or an OpenTelemetry collector (schema-sinks.ts). */
  sinks: auditSinksSchema,
  /**
   * Signed checkpoints: the chain head signed with the gateway's key, stored beside the trail,
   * checked by `behalf audit verify` (a rewrite by someone without the key is detected).
   */
  checkpoints: z
    .strictObject({
      enabled: z.boolean().default(DEFAULTS.auditCheckpointsEnabled),
      /** Sign after at most this many records. */
      everyRecords: z.number().int().min(1).max(1_000_000).default(DEFAULTS.auditCheckpointEveryRecords),
      /** Sign at least this often while records arrive, s. */
      everySeconds: z.number().int().min(1).max(86_400).default(DEFAULTS.auditCheckpointEverySeconds),
      /** POST each checkpoint (JSON) to this http(s) URL too, with retries; may hold a secret (use `${ENV}`). */
      webhook: z
        .string()
        .regex(/^https?:\/\/[^\s]+$/i, 'must be an http(s) URL')
        .refine((u) => URL.canParse(u), 'must be an http(s) URL')
        .optional(),
    })
    .prefault({}),
});

/**
 * Readable names of acting clients (the token's client id), shown by `behalf audit tail` and
 * `query` next to the id. Names only: nothing is decided on them.
 */
export const clientsSchema = z.array(z.strictObject({ id: z.string().min(1).max(256), name: z.string().min(1).max(64) })).default([]);

/** A port: a number, or a numeric string (so `${PORT}` works). */
export const portSchema = z
  .union([z.number(), z.string().regex(/^\d{1,5}$/, 'must be a port number').transform(Number)])
  .pipe(z.number().int().min(0).max(65_535));

export const redisKeyPrefix = z.string().regex(/^[A-Za-z0-9:._-]{1,64}$/, 'must be 1-64 letters, digits, ":", ".", "_" or "-"');

/** Revoked users, clients and tokens (`behalf revoke`, the admin API). */
export const revocationSchema = z.strictObject({
  /**
   * A file path or `file:<path>` (one instance, kept across restarts; relative to the config
   * file), `memory` (one instance, forgotten on restart: tests), or `redis://host:port/db` /
   * `rediss://` (shared by every instance).
   */
  store: z
    .string()
    .regex(/^(memory|rediss?:\/\/.+|file:.+|(?![a-z][a-z0-9+.-]*:\/\/).+)$/i, 'must be a file path, file:<path>, "memory" or a redis:// URL')
    .default(DEFAULTS.revocationStore),
  /**
   * When the shared store has not been read for `maxStalenessMs`: `deny` (503, default: a
   * revocation must never be missed) or `allow` (and raise the alarm metric).
   */
  onStoreError: z.enum(['deny', 'allow']).default(DEFAULTS.revocationOnStoreError),
  /** How often each instance reloads changed revocations from the shared store, ms. */
  syncMs: z.number().int().min(10).max(1_000).default(DEFAULTS.revocationSyncMs),
  /** The local copy is trusted for this long after its last successful sync, ms. */
  maxStalenessMs: z.number().int().min(100).max(60_000).default(DEFAULTS.revocationMaxStalenessMs),
  /** How long a revocation lasts when none is given, s (at least the longest token lifetime). */
  defaultTtlSeconds: z.number().int().min(60).default(DEFAULTS.revocationTtlSeconds),
  /** Prefix of the Redis keys (several deployments can share one Redis). */
  keyPrefix: redisKeyPrefix.default(DEFAULTS.revocationKeyPrefix),
});

/** The admin API: its own listener, never the public one, with its own static bearer token. */
export const adminSchema = z.strictObject({
  host: z.string().default(DEFAULTS.listenHost),
  port: portSchema.default(DEFAULTS.adminListenPort),
  /** The bearer token admin clients send (use `${BEHALF_ADMIN_TOKEN}`); at least 32 characters. */
  token: z.string().min(32, 'must be at least 32 characters (use a random secret from the environment)'),
});

const limitKeyPart = z.enum(['user', 'tenant', 'client', 'tool', 'route']);

/** One limit rule: exactly one of `rate`, `quota` or `concurrency`. Keys come only from the verified identity and the resolved route/tool, never from client headers. */
export const limitRuleSchema = z
  .strictObject({
    id,
    /** What the rule applies to (absent field = any). */
    match: z
      .strictObject({
        routes: z.array(id).min(1).optional(),
        /** Tool names or patterns (`hr.*`, `*`), as in policies. */
        tools: z.array(toolPattern).min(1).optional(),
        methods: z.array(method).min(1).optional(),
      })
      .default({}),
    /** The parts of the bucket key: one bucket per distinct combination. */
    key: z.array(limitKeyPart).min(1).default([...DEFAULTS.limitKey]),
    /** Rate limit (GCRA): `limit` requests per `windowSeconds`, with up to `burst` at once. */
    rate: z
      .strictObject({
        limit: z.number().int().min(1),
        windowSeconds: z.number().min(0.001).max(86_400 * 31),
        burst: z.number().int().min(1).optional(),
      })
      .optional(),
    /** Quota: `limit` cost units per calendar `period` (UTC). Cost per call: 1, `costs.tools`, or the backend's cost header. */
    quota: z.strictObject({ limit: z.number().int().min(1), period: z.enum(['minute', 'hour', 'day', 'month']) }).optional(),
    /** At most this many requests of one key in flight at once. */
    concurrency: z.number().int().min(1).optional(),
  })
  .refine((r) => [r.rate, r.quota, r.concurrency].filter((x) => x !== undefined).length === 1, 'set exactly one of "rate", "quota" or "concurrency"');

/** The limit stage: rate limits, quotas, concurrency and the runaway-agent guard. */
export const limitsSchema = z.strictObject({
  /** `memory` (one instance) or `redis://host:port/db` / `rediss://` (shared by every instance). */
  store: z.string().regex(/^(memory|rediss?:\/\/.+)$/, 'must be "memory" or a redis:// URL').default(DEFAULTS.limitsStore),
  /** When the store cannot be reached: `deny` (503) or `allow` (and raise the alarm metric). */
  onStoreError: z.enum(['deny', 'allow']).default(DEFAULTS.limitsOnStoreError),
  /** Prefix of every Redis key (several deployments can share one Redis). */
  keyPrefix: redisKeyPrefix.default(DEFAULTS.limitsKeyPrefix),
  rules: z.array(limitRuleSchema).default([]),
  /** Cost units per tool for quotas (default 1), and a backend response header that reports the cost instead. */
  costs: z
    .strictObject({ tools: z.record(z.string(), z.number().min(0)).default({}), header: headerName.optional() })
    .prefault({}),
  /** The same user, tool and argument digest repeated `repeats` times within `withinSeconds` is blocked and audited. */
  runaway: z.strictObject({ repeats: z.number().int().min(2), withinSeconds: z.number().min(1).max(86_400) }).optional(),
});
