import { secretDigest } from './secret-shape.js';

/**
 * How an audit record names an MCP session. The `Mcp-Session-Id` is not a credential on its own
 * (every request is authenticated and a session answers only its owner), but it names a live
 * session and records are exported and read by more people than the session's owner, so the
 * record keeps `sha256:<16 hex>` of it: every record of a session carries the same value, and
 * `behalf audit query --session <id>` digests the id it is given the same way.
 */

const refs = new WeakMap<object, string>();

/** The record's `session` for the session id `id`. */
export function sessionRef(id: string): string {
  return secretDigest(id);
}

/** {@link sessionRef} of `session.id`, computed once per session object. */
export function sessionRefOf(session: { readonly id: string }): string {
  let ref = refs.get(session);
  if (ref === undefined) {
    ref = sessionRef(session.id);
    refs.set(session, ref);
  }
  return ref;
}
