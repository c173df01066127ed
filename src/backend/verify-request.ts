import { createVerifier, type RequestLike, type VerifiedCaller, type Verifier, type VerifyCallOptions, type VerifyOptions } from './verify-assertion.js';

/** Verifiers built from plain options (no key set, cache or clock objects), by their settings. */
const byValue = new Map<string, Verifier>();
/** Verifiers built from options holding objects, by the options object itself. */
const byObject = new WeakMap<VerifyOptions, Verifier>();
/** Bound of {@link byValue}: more distinct option sets than this means options are built per request. */
const MAX_CACHED = 64;

function verifierFor(opts: VerifyOptions): Verifier {
  const held = byObject.get(opts);
  if (held !== undefined) return held;
  if (opts.keys !== undefined || opts.replayCache !== undefined || opts.now !== undefined) {
    const made = createVerifier(opts);
    byObject.set(opts, made);
    return made;
  }
  const key = JSON.stringify([opts.issuer, opts.audience, opts.jwksUrl, opts.header, opts.clockToleranceSeconds, opts.tools, opts.forms, opts.jwksRefetchMs]);
  let made = byValue.get(key);
  if (made === undefined) {
    if (byValue.size >= MAX_CACHED) byValue.delete(byValue.keys().next().value as string);
    made = createVerifier(opts);
    byValue.set(key, made);
  }
  byObject.set(opts, made);
  return made;
}

/**
 * One-call form of {@link createVerifier}: verifies the assertion on `req` (and its raw `body`,
 * which MUST be passed when the request has one; `expect.tool`, when given, must equal the
 * assertion's `tool`). The verifier, and so the fetched JWKS, is
 * cached: by the options' values when they are plain strings and numbers, else by the options
 * object itself (keep that object around rather than building one per request).
 *
 * This does NOT check anything beyond {@link createVerifier}'s `verify`: see there.
 */
export function verifyRequest(opts: VerifyOptions, req: RequestLike, body?: Uint8Array | string, expect?: VerifyCallOptions): Promise<VerifiedCaller> {
  return verifierFor(opts).verify(req, body, expect);
}
