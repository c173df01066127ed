import type { IncomingHttpHeaders } from 'node:http';
import type { DirectoryEntry, Identity } from '../../authenticate/identity.js';
import type { RouteConfig } from '../../config/schema.js';
import { BehalfError } from '../../errors.js';
import type { TraceContext } from '../../lib/trace-context.js';
import { compileHeaderTemplate, isSafeHeaderValue, type HeaderTemplate } from './header-templates.js';
import { classifyHeader, normalizeHeaderName } from './stripped-headers.js';

// A tool call passes no client headers: one shared empty set rather than one per call.
const NO_HEADERS: IncomingHttpHeaders = Object.freeze({});

/** Upstream request headers, lower-case names; arrays for repeated headers. */
export type UpstreamHeaders = Record<string, string | string[]>;

/** What one request contributes to its upstream headers. */
export interface OutgoingHeadersInput {
  /**
   * The client's headers as node parsed them (`req.headers`, lower-case names); `undefined` when
   * there is no client request to pass on (a tool call).
   */
  readonly incoming?: IncomingHttpHeaders | undefined;
  /** The verified caller. */
  readonly identity: Identity;
  /** Directory entry of the caller, for `{user.department}` and friends. */
  readonly directory?: DirectoryEntry;
  /** The gateway's request id, sent as `X-Request-Id`. */
  readonly requestId: string;
  /** The request's trace (`traceparent`, and `tracestate` when the caller sent a valid one); none sent when absent. */
  readonly trace?: Pick<TraceContext, 'traceparent' | 'state'> | undefined;
  /** Length in bytes of the body that will be forwarded; `undefined` when there is none. */
  readonly bodyLength?: number;
  /** The client's address as the gateway's socket saw it (`req.socket.remoteAddress`). */
  readonly clientAddress?: string;
}

/** The upstream headers, plus what was removed or could not be injected (for the audit record). */
export interface OutgoingHeaders {
  readonly headers: UpstreamHeaders;
  /**
   * Names (lower case, as the client spelled them) of identity-looking, configured-strip or
   * injected-name headers the client sent, and of routine ones spelled with `_`, which were removed.
   * Ordinary headers a `forwardHeaders` list left out are not named.
   */
  readonly stripped: string[];
  /** Identity headers not sent: a placeholder had no value (`missing`) or an unsafe one (`invalid`). */
  readonly dropped: { header: string; problem: 'missing' | 'invalid' }[];
}

/** Builds the upstream headers of one route; see {@link compileOutgoingHeaders}. */
export interface OutgoingHeaderBuilder {
  /** Tells this delivery apart from an upstream MCP server's in `prepareIdentity`. */
  readonly kind: 'headers';
  /** `assertion` is the signed assertion, sent in `route.assertion.header`; none is sent when `undefined`. */
  build(input: OutgoingHeadersInput, assertion?: string): OutgoingHeaders;
}

/** What happens to one client header: sent on, removed quietly, or removed and reported. */
type Action = 'pass' | 'drop' | 'strip';

/** Bounded memo per route: clients send few distinct names, but a hostile one may send many. */
const MEMO_MAX = 2_048;

/**
 * Compiles the header rules of `route` once (templates, strip sets, the allow-list).
 * `opts.publicUrl` is the gateway's `server.publicUrl`; `opts.serverStripHeaders` is
 * `server.stripHeaders`. Throws `config-invalid` for a bad identity header template, and for a
 * `forwardHeaders` name the gateway never forwards from a client (a built-in identity or routine
 * header, `Cookie`, an injected or assertion header name, or one also in a strip list).
 *
 * Every client header is compared by its normal form (lower case, `_` as `-`; see
 * `normalizeHeaderName`), so `X_User_Id` is the same name as `X-User-Id` everywhere below.
 * Each build removes: hop-by-hop headers and every header named in `Connection`; Host (the
 * upstream's is set by the HTTP client); Content-Length (recomputed from the buffered body);
 * Expect; the client's `traceparent` and `tracestate` (the gateway sends its own); Authorization and Proxy-Authorization (the user's token never reaches a backend);
 * Cookie unless `route.forwardCookies`; the built-in identity list of `stripped-headers.ts`;
 * `server.stripHeaders` and `route.stripHeaders`; and the assertion header and every injected
 * identity header name, so a client can never pre-set one. With `route.forwardHeaders` set, it
 * also removes every other client header: only the listed names, spelled in normal form (an
 * underscore spelling of a listed name is dropped), and Cookie as above, pass. Identity-looking,
 * configured and injected names, and underscore spellings of routine ones (`content_length`),
 * are reported in `stripped`; the rest are removed quietly. Then it sets the identity headers,
 * the assertion, `X-Request-Id`, `traceparent` (the request's trace with the gateway's span as
 * parent) and the caller's validated `tracestate`, and `X-Forwarded-For` (the client's socket address only),
 * `X-Forwarded-Proto` and `X-Forwarded-Host` (from `publicUrl`), and Content-Length. The
 * gateway is the trust boundary: client-supplied X-Forwarded-* and Forwarded values are
 * replaced, never appended to. Content-Encoding and the body are passed as they are (with
 * `forwardHeaders`, only when `content-encoding` is listed).
 *
 * This does NOT trust a load balancer in front of the gateway: its X-Forwarded-For is dropped
 * too, and the backend sees the balancer's address as the client. Without `forwardHeaders` it
 * does NOT remove a backend's own custom identity headers (a name behalf does not know) unless
 * they are configured in a strip list; other names with underscores are passed as spelled. It
 * does NOT validate the values of headers it passes through (node's parser already refused
 * CR/LF/NUL).
 */
export function compileOutgoingHeaders(
  route: Pick<RouteConfig, 'id' | 'identityHeaders' | 'stripHeaders' | 'forwardCookies' | 'assertion' | 'forwardHeaders'>,
  opts: { publicUrl: string; serverStripHeaders?: readonly string[] },
): OutgoingHeaderBuilder {
  const templates: HeaderTemplate[] = Object.entries(route.identityHeaders).map(([name, t]) => compileHeaderTemplate(route.id, name, t));
  const assertionHeader = route.assertion.header.toLowerCase();
  // Names the client may never set: the client's copy is removed and reported.
  const reserved = new Set<string>([...templates.map((t) => t.name), assertionHeader].map(normalizeHeaderName));
  const configured = new Set<string>([...(opts.serverStripHeaders ?? []), ...route.stripHeaders].map(normalizeHeaderName));
  const forwardCookies = route.forwardCookies;
  const allowed = route.forwardHeaders === undefined ? undefined : compileAllowList(route.id, route.forwardHeaders, reserved, configured);
  const publicUrl = new URL(opts.publicUrl);
  const proto = publicUrl.protocol.slice(0, -1);
  const host = publicUrl.host;

  const decide = (name: string): Action => {
    const normal = normalizeHeaderName(name);
    const cls = classifyHeader(normal);
    // `content_length` or `transfer_encoding` is not routine: nothing sends those by accident.
    if (cls === 'routine') return normal === name ? 'drop' : 'strip';
    if (cls === 'identity' || reserved.has(normal) || configured.has(normal)) return 'strip';
    if (normal === 'cookie') return forwardCookies && name === 'cookie' ? 'pass' : 'drop';
    if (allowed !== undefined) return allowed.has(name) ? 'pass' : 'drop';
    return 'pass';
  };
  const memo = new Map<string, Action>();
  // `Connection: keep-alive` on nearly every request: its names are worked out once per value.
  const connectionMemo = new Map<string, ReadonlySet<string> | undefined>();
  /**
   * The header names a `Connection` value makes hop-by-hop, in normal form, leaving out those
   * removed as routine anyway (`keep-alive`, `close` is no header): `undefined` when none is left.
   */
  const connectionNames = (value: string): ReadonlySet<string> | undefined => {
    if (connectionMemo.has(value)) return connectionMemo.get(value);
    const names = new Set(value.split(',').map((s) => normalizeHeaderName(s.trim())).filter((n) => n !== '' && classifyHeader(n) !== 'routine'));
    const result = names.size === 0 ? undefined : names;
    if (connectionMemo.size >= MEMO_MAX) connectionMemo.clear();
    connectionMemo.set(value, result);
    return result;
  };

  return {
    kind: 'headers',
    build(input, assertion) {
      const headers: UpstreamHeaders = Object.create(null) as UpstreamHeaders;
      const stripped: string[] = [];
      const dropped: { header: string; problem: 'missing' | 'invalid' }[] = [];
      const incoming = input.incoming ?? NO_HEADERS;
      const connection = incoming.connection;
      const named = connection === undefined ? undefined : connectionNames(String(connection));

      for (const rawName of Object.keys(incoming)) {
        const value = incoming[rawName];
        if (value === undefined) continue;
        const name = rawName.toLowerCase();
        let action = memo.get(name);
        if (action === undefined) {
          action = decide(name);
          if (memo.size >= MEMO_MAX) memo.clear();
          memo.set(name, action);
        }
        if (action === 'strip') stripped.push(name);
        else if (action === 'pass' && !named?.has(normalizeHeaderName(name))) headers[name] = value;
      }

      for (const t of templates) {
        const r = t.render(input.identity, input.directory);
        if ('value' in r) headers[t.name] = r.value;
        else dropped.push({ header: t.name, problem: r.problem });
      }
      if (assertion !== undefined) headers[assertionHeader] = assertion;
      if (isSafeHeaderValue(input.requestId)) headers['x-request-id'] = input.requestId;
      const trace = input.trace;
      if (trace !== undefined) {
        headers['traceparent'] = trace.traceparent;
        if (trace.state !== undefined) headers['tracestate'] = trace.state;
      }
      if (input.clientAddress !== undefined && isSafeHeaderValue(input.clientAddress)) headers['x-forwarded-for'] = input.clientAddress;
      headers['x-forwarded-proto'] = proto;
      headers['x-forwarded-host'] = host;
      if (input.bodyLength !== undefined) headers['content-length'] = String(input.bodyLength);
      return { headers, stripped, dropped };
    },
  };
}

/**
 * The normal forms of `route.forwardHeaders`. Throws `config-invalid` for a name the gateway
 * never forwards from a client, so a config cannot appear to allow what is always removed.
 */
function compileAllowList(routeId: string, names: readonly string[], reserved: ReadonlySet<string>, configured: ReadonlySet<string>): ReadonlySet<string> {
  const allowed = new Set<string>();
  for (const name of names) {
    const normal = normalizeHeaderName(name);
    const cls = classifyHeader(normal);
    const why =
      cls === 'routine' ? 'the gateway always removes or sets this header itself'
      : cls === 'identity' ? 'an identity header: a client\'s copy is never forwarded'
      : reserved.has(normal) ? 'the gateway sets this header (identityHeaders or the assertion)'
      : configured.has(normal) ? 'also named in a stripHeaders list'
      : normal === 'cookie' ? 'use forwardCookies for the Cookie header'
      : undefined;
    if (why !== undefined) throw new BehalfError('config-invalid', `routes[${routeId}].forwardHeaders.${name}: ${why}`);
    allowed.add(normal);
  }
  return allowed;
}
