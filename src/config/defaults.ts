/** Every default in one place, with units. The schema refers to these; docs/config.md lists them. */
export const DEFAULTS = {
  listenHost: '127.0.0.1',
  listenPort: 8080,
  maxBodyBytes: 1_048_576, // 1 MiB
  maxHeaderBytes: 16_384, // 16 KiB: Node's own bound, stated here so it is visible
  maxTokenBytes: 16_384, // 16 KiB
  requestTimeoutMs: 30_000, // 30 s: whole response from the upstream
  connectTimeoutMs: 5_000, // 5 s
  algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] as const,
  clockSkewSeconds: 60,
  jwksCooldownMs: 30_000, // 30 s between refreshes triggered by an unknown kid
  jwksCacheMaxAgeMs: 600_000, // 10 min
  tokenCacheEntries: 10_000,
  assertionHeader: 'X-Behalf-Assertion',
  assertionTtlSeconds: 60, // at most 60 s
  signingAlgorithm: 'ES256' as const,
  signingKeyFile: '.behalf/signing-keys.json',
  keyRotationOverlapSeconds: 3_600, // old keys stay in the JWKS for 1 h after rotation
  directoryRefreshMs: 30_000, // HTTP directory: poll every 30 s
  auditDir: '.behalf/audit',
  auditFlushMs: 0, // extra batch window; 0 = group commit: flush as soon as the previous flush ends
  auditSyncIntervalMs: 20, // records nobody waits for are fsynced within 20 ms
  auditBatchRecords: 256,
  auditSegmentBytes: 64 * 1_048_576, // 64 MiB per file
  auditSpoolDir: '.behalf/audit-spool', // PostgreSQL store: records wait here while the database is unreachable
  auditSpoolMaxBytes: 1_073_741_824, // 1 GiB: past it, appends fail (fail closed)
  revocationSyncMs: 250, // shared store: each instance reloads changed revocations this often
  revocationMaxStalenessMs: 1_000, // 1 s: older than this, the local copy is not trusted (revocation.onStoreError)
  revocationTtlSeconds: 86_400, // 24 h: a revocation is kept this long unless given its own
  adminListenPort: 9091,
} as const;
