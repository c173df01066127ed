import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import { errorSummary } from '../../lib/error-summary.js';
import type { SigningKeys } from './signing-keys.js';

/**
 * Checks the signing key's age every `DEFAULTS.keyRotationCheckMs` (1 h) and rotates it past `signing.rotateAfterDays` (the old
 * key stays published for the overlap, signing-keys.ts). Returns the function that stops it.
 *
 * This does NOT coordinate several instances sharing one key file: rotating a shared key is a
 * file change and a rolling restart (docs/operations.md).
 */
export function scheduleKeyRotation(keys: SigningKeys, logger: Logger): () => void {
  const timer = setInterval(() => {
    keys.maybeRotate().then(
      (rotated) => rotated && logger.info({ kid: keys.current().kid }, 'signing key rotated'),
      (err: unknown) => logger.error({ err: errorSummary(err) }, 'signing key rotation failed'),
    );
  }, DEFAULTS.keyRotationCheckMs);
  timer.unref();
  return () => clearInterval(timer);
}
