/**
 * Every default in one place, with units: the config schema's (each listed in docs/config.md) and
 * the gateway's internal ones that no config field sets (listener timeouts, upstream connection
 * reuse, store client timeouts, polling intervals). The schema and the code that uses a value
 * refer to it here, so a default is changed in one place.
 *
 * Not here: hard bounds that protect the gateway (the most tools listed from an upstream, the
 * longest URI template, ...) stay next to the code they bound; they are limits, not defaults.
 * `behalf/backend` keeps its own defaults (it runs in other services and imports nothing of the
 * gateway's configuration).
 */
export const DEFAULTS = {
  // server
  listenHost: '127.0.0.1',
  listenPort: 8080,
  maxBodyBytes: 1_048_576, // 1 MiB
  maxHeaderBytes: 65_536, // 64 KiB: the HTTP parser's bound on all headers, above maxTokenBytes so an oversized token gets behalf's own 401 token-too-large
  maxTokenBytes: 16_384, // 16 KiB
  headersTimeoutMs: 10_000, // 10 s for a client to send a request's head, counted from the connection or the request's first byte (slow-loris bound)
  clientRequestTimeoutMs: 60_000, // 60 s for a client to send a whole request, head and body
  maxConnections: 10_000, // connections the public listener holds at once; more are closed on accept
  maxConnectionsPerAddress: 1_000, // connections from one client address (an IPv6 /64) at once; 0 = no bound
  /** Body on a GET, HEAD or DELETE of a route: refused (400 `body-not-allowed`) unless the route lists the method. */
  allowBodyOn: [] as ('GET' | 'HEAD' | 'DELETE')[],
  // Untrusted JSON (request bodies parsed for policy, MCP messages, tool results): bounded before it is parsed.
  jsonMaxDepth: 64, // levels of nested arrays and objects; deeper is refused (400 json-too-deep)
  jsonMaxValues: 10_000, // values in one JSON body or MCP message (~1.5 ms of JSON.parse at worst); more is refused (413 json-too-many-values)
  // The gateway's listeners (public and admin); none is a config field.
  timeoutCheckMs: 250, // 250 ms between checks of the header and request timeouts (Node's own default is 30 s)
  timedOutAnswerMs: 1_000, // 1 s for a request whose body timed out to be answered 408 before its connection is cut
  connectionRefusalAuditMs: 10_000, // 10 s: refused connections are audited as one summary record per reason per window
  clientKeepAliveMs: 5_000, // 5 s an idle client connection stays open
  closeGraceMs: 5_000, // 5 s for in-flight requests to finish when the gateway stops
  adminRequestTimeoutMs: 30_000, // 30 s for an admin client to send a whole request
  adminCloseGraceMs: 2_000, // 2 s for in-flight admin requests when the gateway stops

  // routes[] and upstream connections
  requestTimeoutMs: 30_000, // 30 s: whole response from the upstream
  connectTimeoutMs: 5_000, // 5 s
  // 4 s an idle upstream socket is kept for reuse: under the 5 s keep-alive of Node's own
  // servers, so the gateway does not reuse a socket the upstream is closing.
  upstreamKeepAliveMs: 4_000,
  toolMaxResponseBytes: 4 * 1_048_576, // 4 MiB: a config-declared tool's answer read from its backend
  toolMaxArgumentBytes: 65_536, // 64 KiB: a tool call's arguments as sent (JSON text); more is refused (arguments-too-large)

  // issuers[]
  algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] as const,
  clockSkewSeconds: 60,
  // An issuer's JWKS is fetched at most once per jwksRefetchMinIntervalMs, whatever the cause;
  // fetches caused by tokens (an unknown kid, a bad signature under a known kid) also draw on a
  // bucket of jwksRefetchesPerMinute (its size and its refill per minute): the flood bound.
  jwksRefetchMinIntervalMs: 1_000, // 1 s
  jwksRefetchesPerMinute: 10, // per issuer and instance; once spent, one more every 6 s
  jwksCacheMaxAgeMs: 600_000, // 10 min: older keys are refreshed in the background, and used meanwhile
  jwksAbsentKidsRemembered: 1_000, // kids a fetch showed absent, remembered to answer 401 (not 503) while refetches are spent
  tokenCacheEntries: 10_000,
  idpFetchTimeoutMs: 5_000, // 5 s for a discovery document or a JWKS
  idpFetchMaxBytes: 524_288, // 512 KiB: a larger discovery document or JWKS is refused
  claimPreset: 'generic' as const,

  // routes[].assertion, upstreams[].identity, signing
  assertionHeader: 'X-Behalf-Assertion',
  assertionTtlSeconds: 60, // at most 60 s
  /** One signature per event-loop turn's batch (docs/batched-assertions.md); `jwt` signs each. */
  assertionForm: 'batched' as 'batched' | 'jwt',
  assertionBatchMaxWaitMicroseconds: 500, // 0.5 ms at most before a batch is signed
  assertionBatchMaxLeaves: 256, // a full batch is signed at once
  /** A query name given more than once on a route: refused (400 `query-repeated`) unless a route allows it. */
  queryRepeated: 'refuse' as 'refuse' | 'allow',
  signingAlgorithm: 'ES256' as const,
  signingKeyFile: '.behalf/signing-keys.json',
  keyRotateAfterDays: 0, // 0 = never rotate
  keyRotationOverlapSeconds: 3_600, // old keys stay in the JWKS for 1 h after rotation
  keyRotationCheckMs: 3_600_000, // 1 h between checks of the signing key's age

  // directory
  directoryRefreshMs: 30_000, // HTTP directory: poll every 30 s
  directoryFilePollMs: 5_000, // file directory: checked every 5 s besides change events
  directoryFileDebounceMs: 100, // 100 ms after a change event before reloading (editors write in bursts)
  directoryMaxBytes: 16 * 1_048_576, // 16 MiB: a larger HTTP directory answer is refused
  directoryFetchTimeoutMs: 10_000, // 10 s for an HTTP directory answer (or refreshMs, if shorter)

  // mcp
  mcpPath: '/mcp',
  mcpSessionIdleSeconds: 3_600, // 1 h: an idle session is forgotten
  mcpMaxSessions: 10_000, // past this, the least recently used session is dropped
  mcpPageSize: 500, // tools per tools/list page
  mcpStreamKeepAliveMs: 30_000, // 30 s between SSE comments on an idle session stream (proxies drop silent streams)

  // upstreams[]
  upstreamPinning: 'block' as const,
  upstreamCircuitFailures: 3, // failed health checks of an upstream in a row (connection attempts, pings) that open its circuit
  upstreamCircuitOpenMs: 500, // 500 ms: first wait before a trial connection to an upstream whose circuit is open (and between retries before it opens)
  upstreamCircuitMaxOpenMs: 30_000, // 30 s: the longest wait between trial connections while the circuit stays open
  upstreamProbeTimeoutMs: 5_000, // 5 s for the ping that checks an upstream's session after a call could not reach it
  toolPinsPollMs: 2_000, // 2 s between checks of the tool pins file for changes by another process (`behalf tools accept`)
  upstreamTransport: 'http' as const,
  toolMethod: 'GET' as const, // tools[].call.method

  // audit
  auditDir: '.behalf/audit',
  auditOnFailureForReads: 'deny' as const,
  auditSyncBeforeResponse: 'changes' as const,
  auditFlushMs: 0, // extra batch window; 0 = group commit: flush as soon as the previous flush ends
  auditSyncIntervalMs: 20, // records nobody waits for are fsynced within 20 ms
  auditBatchRecords: 256,
  auditSegmentBytes: 64 * 1_048_576, // 64 MiB per file
  auditSpoolDir: '.behalf/audit-spool', // PostgreSQL store: records wait here while the database is unreachable
  auditSpoolMaxBytes: 1_073_741_824, // 1 GiB: past it, appends fail (fail closed)
  auditSpoolRetryMinMs: 250, // first wait before shipping the spool to PostgreSQL again
  auditSpoolRetryMaxMs: 5_000, // 5 s: the longest wait between attempts
  auditKeepArguments: 'scalars' as const, // tool and prompt arguments a record keeps: top-level scalars, bounded, credentials digested
  auditKeepQuery: 'scalars' as const, // route query parameters a record keeps: those given once, bounded, credentials digested
  auditReorderRecords: 10_000, // `audit query`/`tail`: records held to print in start-time order (a request this many records late prints late)
  auditFollowPollMs: 250, // `audit tail -f`: new records are looked for every 250 ms
  auditReadPageRows: 1_000, // PostgreSQL store: rows per statement when reading, verifying or importing
  // audit.sinks: copies of the records for a SIEM (webhook) or an OpenTelemetry collector (otlp)
  auditSinkBatchMaxRecords: 500, // records per request
  auditSinkFlushMs: 1_000, // 1 s: a batch that is not full goes this long after its first record
  auditSinkMaxQueue: 10_000, // records waiting; past it the oldest unsent are dropped and counted
  auditSinkTimeoutMs: 10_000, // 10 s per request
  auditSinkRetryMinMs: 500, // first wait before a failed batch is sent again (doubled per attempt, full jitter)
  auditSinkRetryMaxMs: 30_000, // 30 s: the longest wait between attempts
  auditSinkRetryAfterMaxMs: 300_000, // 5 min: the most of a receiver's Retry-After that is honoured
  auditSinkDrainMs: 5_000, // 5 s: on shutdown, how long the sinks may take to send what is queued
  auditSinkOtlpSignals: ['logs', 'traces'] as const,
  auditSinkOtlpServiceName: 'behalf',
  auditCheckpointsEnabled: true, // signed checkpoints of the chain head (one ES256 signature and one small fsynced write each)
  auditCheckpointEveryRecords: 1_000, // sign the head after at most 1 000 records...
  auditCheckpointEverySeconds: 60, // ...or 60 s, whichever comes first (only when the head moved)
  auditCheckpointWebhookQueue: 1_000, // checkpoints waiting for the webhook; past it the oldest is dropped
  auditCheckpointWebhookTimeoutMs: 5_000, // 5 s per delivery attempt
  auditCheckpointWebhookRetryMinMs: 250, // first wait after a failed delivery
  auditCheckpointWebhookRetryMaxMs: 30_000, // 30 s: the longest wait between attempts
  auditCheckpointWebhookCloseWaitMs: 2_000, // 2 s: how long stopping the gateway waits for queued deliveries

  // PostgreSQL audit store (the URL's connect_timeout and statement_timeout override the first two)
  postgresConnectTimeoutMs: 5_000, // 5 s
  postgresStatementTimeoutMs: 5_000, // 5 s
  postgresMaxConnections: 2,
  postgresIdleTimeoutMs: 30_000, // an idle connection is closed after 30 s

  // limits
  limitsStore: 'memory',
  limitsOnStoreError: 'allow' as const,
  limitsKeyPrefix: 'behalf:limit:',
  limitKey: ['user'] as const, // limits.rules[].key: one bucket per user
  limitLeaseMs: 30_000, // 30 s: how long a crashed instance's concurrency slots stay taken
  memoryLimitEntries: 100_000, // memory store: bound on entries of each kind

  // revocation
  revocationStore: '.behalf/revocations.json', // a file next to the audit trail and keys: survives a restart
  revocationOnStoreError: 'deny' as const,
  revocationKeyPrefix: 'behalf:',
  revocationSyncMs: 250, // shared store: each instance reloads changed revocations this often
  revocationMaxStalenessMs: 1_000, // 1 s: older than this, the local copy is not trusted (revocation.onStoreError)
  revocationTtlSeconds: 86_400, // 24 h: a revocation is kept this long unless given its own

  // approvals (docs/approvals.md)
  approvalStore: 'memory',
  approvalKeyPrefix: 'behalf:',
  approvalTimeoutSeconds: 900, // 15 min: a request waits this long for a decision
  approvalValidSeconds: 600, // 10 min: once approved, the request can be retried this long (once)
  approvalNotifyTimeoutMs: 5_000, // 5 s per webhook attempt
  approvalNotifyQueue: 1_000, // announcements waiting for the webhook, at most (the oldest are dropped)

  // Redis stores (limits, revocations, approvals)
  redisCommandTimeoutMs: 500, // a command that takes longer fails (the store then follows onStoreError)
  redisConnectTimeoutMs: 2_000, // 2 s to establish a connection

  // admin
  adminListenPort: 9091,
  adminClientTimeoutMs: 10_000, // 10 s: how long `behalf revoke` waits for the admin API

  // log
  logLevel: 'info' as const,
} as const;
