import type { WrittenListener } from '../stores/types.js';
import type { SealedRecord } from './chain.js';
import type { AuditRecord } from './record.js';

/**
 * Calls a store's {@link WrittenListener} with a batch now in the trail. What it throws is
 * swallowed: a copy of the trail (a sink) must never fail the trail.
 */
export function tell(listener: WrittenListener, records: readonly AuditRecord[], sealed: readonly SealedRecord[]): void {
  try {
    listener(records, sealed);
  } catch {
    // see above
  }
}
