import type { Logger } from 'pino';
import type { Auditor } from '../../audit/auditor.js';
import type { AuditRecord } from '../../audit/record.js';
import { errorSummary } from '../../lib/error-summary.js';
import { printable } from '../../lib/printable.js';
import { newRequestId } from '../../lib/request-id.js';
import type { Metrics } from '../../observe/metrics.js';
import type { ConnectionRefusal } from './connection-limits.js';

/** Addresses named in a summary record, most refused first; the rest are only counted. */
const NAMED_ADDRESSES = 5;
/** Addresses tallied per window; refusals from others count under "other addresses". */
const TALLIED_ADDRESSES = 64;

/** Refusals of one reason since its last record. */
interface Tally {
  count: number;
  since: number;
  readonly byAddress: Map<string, number>;
}

export interface ConnectionRefusalRecorder {
  /** One connection closed on accept, from `address`. */
  refused(reason: ConnectionRefusal, address: string | undefined): void;
  /** Writes what is still tallied (on shutdown) and stops the timer. */
  flush(): void;
}

/**
 * What the gateway keeps of connections closed on accept (connection-limits.ts). Every one is
 * counted in `behalf_connections_refused_total{reason}`. The audit trail gets, per reason, the
 * first refusal after a quiet window as a record of its own (so a single refusal is seen at once,
 * with its address), then at most one summary record per `windowMs` while refusals go on: how many,
 * over how long, and the addresses refused most. A flood of connections therefore costs the trail
 * one record per reason per window, not one per connection: a record per refusal would let anyone
 * who can open sockets fill the trail's disk and its fsync queue, exactly when the gateway is
 * already under pressure. Records: door `http`, method `-`, no path, no user, status 0 (no HTTP
 * answer was sent: the connection was closed), written without waiting for an fsync.
 *
 * This does NOT name every address of a flood (the top few, and a count of the rest), and does
 * NOT refuse anything itself.
 */
export function createConnectionRefusalRecorder(deps: { auditor: Auditor; metrics: Metrics; logger: Logger; now: () => number; windowMs: number }): ConnectionRefusalRecorder {
  const tallies = new Map<ConnectionRefusal, Tally>();
  let timer: NodeJS.Timeout | undefined;

  const write = (reason: ConnectionRefusal, detail: string, at: number) => {
    const requestId = newRequestId();
    const record: AuditRecord = {
      time: new Date(at).toISOString(),
      requestId,
      door: 'http',
      method: '-',
      path: '',
      decision: 'deny',
      reason,
      status: 0,
      latencyMs: 0,
      bytesIn: 0,
      bytesOut: 0,
      detail,
    };
    deps.auditor.record(record, { durability: 'written' }).catch((err: unknown) => deps.logger.error({ err: errorSummary(err), requestId }, 'connection refusal not audited'));
  };

  const summarise = (reason: ConnectionRefusal, tally: Tally, end: number) => {
    const named = [...tally.byAddress].sort((a, b) => b[1] - a[1]).slice(0, NAMED_ADDRESSES);
    const others = tally.count - named.reduce((sum, [, n]) => sum + n, 0);
    const list = named.map(([address, n]) => `${address} x${n}`).join(', ') + (others > 0 ? `, other addresses x${others}` : '');
    write(reason, `${tally.count} connection(s) refused in ${Math.max(0, end - tally.since)} ms: ${list}`, tally.since);
  };

  const tick = () => {
    const now = deps.now();
    for (const [reason, tally] of tallies) {
      if (tally.count === 0) {
        tallies.delete(reason);
        continue;
      }
      summarise(reason, tally, now);
      tally.count = 0;
      tally.since = now;
      tally.byAddress.clear();
    }
    if (tallies.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  return {
    refused(reason, address) {
      deps.metrics.connectionsRefused.inc({ reason });
      const shown = printable(address ?? 'unknown', 64);
      const tally = tallies.get(reason);
      if (tally === undefined) {
        const now = deps.now();
        write(reason, `connection refused: ${shown}`, now);
        tallies.set(reason, { count: 0, since: now, byAddress: new Map() });
        if (timer === undefined) {
          timer = setInterval(tick, deps.windowMs);
          timer.unref();
        }
        return;
      }
      tally.count += 1;
      const held = tally.byAddress.get(shown);
      if (held !== undefined) tally.byAddress.set(shown, held + 1);
      else if (tally.byAddress.size < TALLIED_ADDRESSES) tally.byAddress.set(shown, 1);
    },
    flush() {
      tick();
      tallies.clear();
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
