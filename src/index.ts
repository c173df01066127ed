/**
 * `behalf`: the gateway as a library. Load and validate a config file, start a gateway from it,
 * and read the registries a caller matches on (fault codes, denial reasons). What a backend needs
 * to verify the gateway's assertions is `behalf/backend`; the shared stores are
 * `behalf/stores/redis` and `behalf/stores/postgres`.
 *
 * Every name here is exported explicitly: this list is the public API, and a test imports it
 * from the packed package as a user would (test/slow/package-exports.test.ts).
 */

/** Starts a gateway from a loaded config: `await startGateway(await loadConfigFile(path, process.env))`. */
export { startGateway } from './gateway.js';
/** A running gateway (`address`, `ready()`, `close()`), its injectable edges, and what `ready()` reports. */
export type { Gateway, GatewayOptions, ReadyStatus } from './gateway.js';

/** Reads a YAML file, interpolates `${ENV}` from the `env` you pass, validates and freezes it. */
export { loadConfigFile } from './config/load.js';
/** The same from YAML text already in memory, and from an object already parsed: never throw for bad input. */
export { parseConfigText, validateConfig } from './config/load.js';
/** Thrown by `loadConfigFile` for an invalid file: `problems` lists every one with its path. */
export { ConfigError } from './config/load.js';
/** A validated config with the folder its relative paths resolve from; one problem of an invalid one. */
export type { ConfigProblem, LoadedConfig } from './config/load.js';
/** The validated config (`Config`) and what a config file may contain before defaults (`ConfigInput`). */
export type { Config, ConfigInput } from './config/schema.js';
/** Every default value of the config and of the gateway's internals, with units. */
export { DEFAULTS } from './config/defaults.js';

/** The one error class for faults (a bug, a misconfiguration, an unavailable dependency), and its test. */
export { BehalfError, isBehalfError } from './errors.js';
/** Every fault code a `BehalfError` can carry (listed in docs/errors.md). */
export { ERROR_CODES } from './errors.js';
/** One of {@link ERROR_CODES}. */
export type { ErrorCode } from './errors.js';

/** Every stable reason code a decision or audit record carries, with its meaning. Never renamed. */
export { REASONS } from './pipeline/reasons.js';
/** One of the keys of {@link REASONS}. */
export type { Reason } from './pipeline/reasons.js';

/** The narrow async store interfaces (audit, limits, revocations) every implementation fulfils. */
export type {
  AppendOptions,
  AuditQuery,
  AuditStore,
  AuditStoreStatus,
  CountOutcome,
  LimitStore,
  QuotaOutcome,
  RateOutcome,
  RateSpec,
  Revocation,
  RevocationKind,
  RevocationStore,
  VerifyProblem,
  VerifyResult,
} from './stores/types.js';
/** The audit record as the pipeline writes it, and as a store returns it (with `seq`, `prev`, `hash`). */
export type { AuditRecord, StoredAuditRecord } from './audit/record.js';
