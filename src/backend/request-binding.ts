import { BehalfError } from '../errors.js';
import { queryDigest } from '../forward/identity/assertion-claims.js';
import { BODY_DIGEST_PREFIX } from '../lib/digest.js';

/** What an assertion says about the request it was issued for (`htm`, `htu`, `htq`, `tool`). */
export interface SignedRequest {
  readonly htm: string;
  readonly htu: string;
  /** Present for long targets: the query's digest, and `htu` is then the path alone. */
  readonly htq?: string | undefined;
}

const mismatch = (message: string): BehalfError => new BehalfError('assertion-request-mismatch', message);

/**
 * Checks that the request as received is the one the assertion binds, else throws
 * `assertion-request-mismatch` (or `assertion-invalid` for an `htq` that is malformed).
 *
 * DOES: the method must be upper case and equal `htm` exactly (`htm` is signed upper case; HTTP
 * methods are case-sensitive, and a router that folds `get` into `GET` would otherwise run a
 * method nobody signed); the target must be origin-form (`/path?query`): an absolute-form
 * (`http://host/path`), authority-form or asterisk-form (`*`) target is refused, never reduced to
 * its path. Without `htq`, the target must equal `htu` byte for byte; with `htq`, the target
 * must have a query, its path (before the first `?`) must equal `htu` and the SHA-256 of the
 * query (after the first `?`) must equal `htq`.
 *
 * This does NOT decode percent-encoding, dot segments or the query's order: `/a/../b`, `%41`
 * and reordered parameters differ from what was signed and are refused, so the backend must pass
 * the target exactly as received (`req.url`; Express: `req.originalUrl`). It does NOT look at
 * Host or scheme (`aud` binds the backend) and does NOT check the body (see `bdg`).
 */
export function checkRequestBinding(method: string | undefined, url: string | undefined, signed: SignedRequest): void {
  const m = method ?? '';
  if (m === '' || m !== m.toUpperCase()) throw mismatch('the request method is not upper case');
  if (m !== signed.htm) throw mismatch('the assertion was issued for another method');
  const target = url ?? '';
  if (!target.startsWith('/')) throw mismatch('the request target is not origin-form (/path?query)');
  if (signed.htq === undefined) {
    if (target !== signed.htu) throw mismatch('the assertion was issued for another path or query');
    return;
  }
  if (!signed.htq.startsWith(BODY_DIGEST_PREFIX) || signed.htu.includes('?')) {
    throw new BehalfError('assertion-invalid', 'the assertion has a malformed query binding');
  }
  const mark = target.indexOf('?');
  if (mark < 0 || target.slice(0, mark) !== signed.htu) throw mismatch('the assertion was issued for another path or query');
  if (queryDigest(target.slice(mark + 1)) !== signed.htq) throw mismatch('the query differs from the one the assertion was issued for');
}

/**
 * Checks the assertion's `tool` against what the backend expects, else throws
 * `assertion-tool-mismatch`: with `allowed` (the verifier's `tools`), the claim must be one of
 * them; with `expected` (per call), it must equal it exactly. An assertion without `tool` fails
 * either check. With neither, nothing is checked.
 *
 * This does NOT check the arguments: they are bound by `bdg`/`args`, which the body check
 * compares. It does NOT map names: an upstream behind a namespace gets its own tool name
 * (`get_reviews`, not `hr.get_reviews`).
 */
export function checkTool(tool: string | undefined, allowed: ReadonlySet<string> | undefined, expected: string | undefined): void {
  if (allowed !== undefined && (tool === undefined || !allowed.has(tool))) {
    throw new BehalfError('assertion-tool-mismatch', 'the assertion was issued for a tool this backend does not serve');
  }
  if (expected !== undefined && tool !== expected) {
    throw new BehalfError('assertion-tool-mismatch', 'the assertion was issued for another tool');
  }
}
