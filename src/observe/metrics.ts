import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CounterCells } from './counter-cells.js';

/** The gateway's Prometheus metrics, on a registry of its own (several gateways can share a process in tests). */
export interface Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'door' | 'route' | 'decision' | 'reason'>;
  /** One request in `requests`, the per-request way: no label object, no hash string (counter-cells.ts). */
  readonly countRequest: (door: string, route: string, decision: string, reason: string) => void;
  readonly duration: Histogram<'door' | 'decision'>;
  readonly upstreamFailures: Counter<'route' | 'reason'>;
  /** 1 while an upstream MCP server's circuit is open (its calls fail at once), 0 once it closed again. */
  readonly upstreamCircuitOpen: Gauge<'upstream'>;
  /** Times an upstream MCP server's circuit opened. */
  readonly upstreamCircuitOpens: Counter<'upstream'>;
  /** Requests the HTTP parser refused before any stage (malformed framing or headers, too large, too slow, CONNECT). */
  readonly clientErrors: Counter<'reason'>;
  readonly jwksRefetchLimited: Counter<'issuer'>;
  /** Connections closed as they were accepted: past `server.maxConnections` or `server.maxConnectionsPerAddress`. */
  readonly connectionsRefused: Counter<'reason'>;
  /** Client connections the public listener holds (set at scrape time). */
  readonly connectionsOpen: Gauge;
  readonly auditFailures: Counter;
  /** 1 while the last audit write failed, 0 once one succeeds again: the alarm. */
  readonly auditUnhealthy: Gauge;
  /** Limit stage: one per matching rule per request; `rule` is the rule id (`runaway` for the guard), `outcome` allow, deny or error. */
  readonly limitDecisions: Counter<'rule' | 'outcome'>;
  /** One decision in `limitDecisions`, the per-request way (counter-cells.ts). */
  readonly countLimitDecision: (rule: string, outcome: 'allow' | 'deny' | 'error') => void;
  /** Limit store operations that failed (Redis unreachable, timed out). */
  readonly limitStoreErrors: Counter;
  /** 1 while the last limit store operation failed, 0 once one succeeds again: the alarm. */
  readonly limitStoreUnhealthy: Gauge;
  /** Signed checkpoints of the audit trail stored, and attempts that failed, by `outcome` (set at scrape time). */
  readonly auditCheckpoints: Counter<'outcome'>;
  /** Approvals requested, approved, denied and used (docs/approvals.md), by `event`. */
  readonly approvalEvents: Counter<'event'>;
  /** Revocation syncs with the shared store that failed. */
  readonly revocationStoreErrors: Counter;
  /** 1 while the local copy of the revocations is too old to trust (alarm). */
  readonly revocationStale: Gauge;
  /** Revocations in force, as this instance sees them (set at scrape time). */
  readonly revocations: Gauge;
  /** PostgreSQL audit store: records and bytes waiting in the local spool (set at scrape time). */
  readonly auditSpoolRecords: Gauge;
  readonly auditSpoolBytes: Gauge;
  /** Signatures over batches of assertions (a batch of one included): with `assertionsBatched`, the mean batch size. */
  readonly assertionBatches: Counter;
  /** Assertions signed through batches (routes and upstreams with `form: batched`). */
  readonly assertionsBatched: Counter;
  /** Audit sinks (`audit.sinks`), by sink name: records dropped (queue full, refused, shutdown), sent, waiting; 1 while failing. Set at scrape time. */
  readonly auditSinkDropped: Counter<'sink'>;
  readonly auditSinkSent: Counter<'sink'>;
  readonly auditSinkQueued: Gauge<'sink'>;
  readonly auditSinkFailing: Gauge<'sink'>;
  /** Called before each scrape, to set gauges read from components (spool depth, revocations). */
  readonly beforeScrape: (() => void)[];
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'behalf_' });
  const requestCells = new CounterCells(['door', 'route', 'decision', 'reason']);
  const requests = new Counter({
    name: 'behalf_requests_total',
    help: 'Requests by door, route, decision and reason',
    labelNames: ['door', 'route', 'decision', 'reason'],
    registers: [registry],
    collect() {
      requestCells.flushInto(this);
    },
  });
  requestCells.attach(requests);
  const limitCells = new CounterCells(['rule', 'outcome']);
  const limitDecisions = new Counter({
    name: 'behalf_limit_decisions_total',
    help: 'Limit rule decisions by rule and outcome (allow, deny, error)',
    labelNames: ['rule', 'outcome'],
    registers: [registry],
    collect() {
      limitCells.flushInto(this);
    },
  });
  limitCells.attach(limitDecisions);
  return {
    registry,
    beforeScrape: [],
    requests,
    countRequest: (door, route, decision, reason) => requestCells.inc(door, route, decision, reason),
    limitDecisions,
    countLimitDecision: (rule, outcome) => limitCells.inc(rule, outcome),
    duration: new Histogram({
      name: 'behalf_request_duration_seconds',
      help: 'Time from receipt to the end of the response',
      labelNames: ['door', 'decision'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    upstreamFailures: new Counter({ name: 'behalf_upstream_failures_total', help: 'Upstream connection failures and timeouts', labelNames: ['route', 'reason'], registers: [registry] }),
    upstreamCircuitOpen: new Gauge({ name: 'behalf_upstream_circuit_open', help: '1 while the circuit of an upstream MCP server is open (its calls fail at once)', labelNames: ['upstream'], registers: [registry] }),
    upstreamCircuitOpens: new Counter({ name: 'behalf_upstream_circuit_opens_total', help: 'Times the circuit of an upstream MCP server opened', labelNames: ['upstream'], registers: [registry] }),
    clientErrors: new Counter({ name: 'behalf_client_errors_total', help: 'Requests refused by the HTTP parser before any stage, by reason', labelNames: ['reason'], registers: [registry] }),
    jwksRefetchLimited: new Counter({ name: 'behalf_jwks_refetch_limited_total', help: "Tokens whose JWKS refetch was refused by the issuer's flood bound (jwksRefetch.perMinute)", labelNames: ['issuer'], registers: [registry] }),
    connectionsRefused: new Counter({
      name: 'behalf_connections_refused_total',
      help: 'Client connections closed on accept, by reason (connection-limit, connection-limit-per-address)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    connectionsOpen: new Gauge({ name: 'behalf_connections_open', help: 'Client connections the public listener holds', registers: [registry] }),
    auditFailures: new Counter({ name: 'behalf_audit_write_failures_total', help: 'Audit records that could not be written', registers: [registry] }),
    auditUnhealthy: new Gauge({ name: 'behalf_audit_unhealthy', help: '1 while audit records cannot be written (alarm)', registers: [registry] }),
    limitStoreErrors: new Counter({ name: 'behalf_limit_store_errors_total', help: 'Limit store operations that failed', registers: [registry] }),
    limitStoreUnhealthy: new Gauge({ name: 'behalf_limit_store_unhealthy', help: '1 while the limit store cannot be reached (alarm)', registers: [registry] }),
    auditCheckpoints: new Counter({ name: 'behalf_audit_checkpoints_total', help: 'Signed checkpoints of the audit trail stored (outcome="signed") or failed (outcome="failed")', labelNames: ['outcome'], registers: [registry] }),
    approvalEvents: new Counter({ name: 'behalf_approval_events_total', help: 'Approvals requested, approved, denied and used', labelNames: ['event'], registers: [registry] }),
    revocationStoreErrors: new Counter({ name: 'behalf_revocation_store_errors_total', help: 'Revocation syncs with the shared store that failed', registers: [registry] }),
    revocationStale: new Gauge({ name: 'behalf_revocation_stale', help: '1 while the local copy of the revocations is too old to trust (alarm)', registers: [registry] }),
    revocations: new Gauge({ name: 'behalf_revocations', help: 'Revocations in force on this instance', registers: [registry] }),
    auditSpoolRecords: new Gauge({ name: 'behalf_audit_spool_records', help: 'Audit records waiting in the local spool for PostgreSQL', registers: [registry] }),
    assertionBatches: new Counter({ name: 'behalf_assertion_batches_total', help: 'Signatures made over batches of assertions (a batch of one included)', registers: [registry] }),
    assertionsBatched: new Counter({ name: 'behalf_assertions_batched_total', help: 'Assertions signed through batches', registers: [registry] }),
    auditSpoolBytes: new Gauge({ name: 'behalf_audit_spool_bytes', help: 'Bytes waiting in the local audit spool', registers: [registry] }),
    auditSinkDropped: new Counter({ name: 'behalf_audit_sink_dropped_total', help: 'Audit records a sink dropped (queue full, refused by the receiver, or left at shutdown); the audit store still holds them', labelNames: ['sink'], registers: [registry] }),
    auditSinkSent: new Counter({ name: 'behalf_audit_sink_sent_total', help: 'Audit records a sink delivered', labelNames: ['sink'], registers: [registry] }),
    auditSinkQueued: new Gauge({ name: 'behalf_audit_sink_queued', help: 'Audit records waiting in a sink queue', labelNames: ['sink'], registers: [registry] }),
    auditSinkFailing: new Gauge({ name: 'behalf_audit_sink_failing', help: '1 while the last delivery attempt of a sink failed', labelNames: ['sink'], registers: [registry] }),
  };
}
