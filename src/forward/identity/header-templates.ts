import type { DirectoryEntry, Identity } from '../../authenticate/identity.js';
import { BehalfError } from '../../errors.js';

/**
 * Identity header templates (`route.identityHeaders`), e.g. `X-User-Id: "{user.id}"` or
 * `X-Who: "{user.id}@{user.tenant}"`. Compiled once per route; rendering is string joins only.
 */

/** Where a placeholder's value comes from. Lists are comma-joined. */
const FIELDS = {
  'user.id': (u: Identity) => u.id,
  'user.email': (u: Identity) => u.email,
  'user.name': (u: Identity) => u.name,
  'user.tenant': (u: Identity) => u.tenant,
  'user.roles': (u: Identity) => u.roles,
  'user.groups': (u: Identity) => u.groups,
  'user.scopes': (u: Identity) => u.scopes,
  'user.client': (u: Identity) => u.client,
  'user.issuer': (u: Identity) => u.issuer,
  'user.department': (_: Identity, d?: DirectoryEntry) => d?.department,
  'user.manager': (_: Identity, d?: DirectoryEntry) => d?.manager,
  'user.title': (_: Identity, d?: DirectoryEntry) => d?.title,
} as const satisfies Record<string, (u: Identity, d?: DirectoryEntry) => string | readonly string[] | undefined>;

/** Every placeholder a template may use, e.g. `user.id`. */
export const TEMPLATE_FIELDS = Object.keys(FIELDS) as (keyof typeof FIELDS)[];

type Part = string | ((u: Identity, d?: DirectoryEntry) => string | readonly string[] | undefined);

/** One compiled header template. */
export interface HeaderTemplate {
  /** Lower-case header name. */
  readonly name: string;
  /** The value, or why there is none: `missing` (a placeholder has no value) or `invalid`. */
  render(user: Identity, directory?: DirectoryEntry): { value: string } | { problem: 'missing' | 'invalid' };
}

/**
 * A header value behalf is willing to send: visible ASCII and inner spaces/tabs only. That refuses
 * CR, LF and NUL (header injection), other controls, and non-ASCII (its byte form differs
 * between HTTP stacks). Leading or trailing whitespace is refused too, because parsers trim it
 * and `" alice"` would silently become `"alice"`. The empty value is allowed.
 *
 * This does NOT check what the value means: a comma or `;` is allowed here (list members are
 * checked by the template renderer), and a backend that splits a header value on other
 * characters must not receive user-controlled text in it.
 */
export function isSafeHeaderValue(value: string): boolean {
  return /^(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?$/.test(value);
}

/**
 * Compiles one template. Throws `config-invalid` (naming the route and header) for an unknown
 * placeholder, an unbalanced brace, or literal text that is not a safe header value.
 *
 * This does NOT check that the header name is unused by the backend for something else, nor
 * that the value is meaningful to it.
 */
export function compileHeaderTemplate(routeId: string, header: string, template: string): HeaderTemplate {
  const where = `routes[${routeId}].identityHeaders.${header}`;
  const parts: Part[] = [];
  let rest = template;
  while (rest.length > 0) {
    const open = rest.indexOf('{');
    const literal = open === -1 ? rest : rest.slice(0, open);
    if (literal.includes('}')) throw new BehalfError('config-invalid', `${where}: "}" without "{"`);
    if (literal !== '') parts.push(literal);
    if (open === -1) break;
    const close = rest.indexOf('}', open);
    if (close === -1) throw new BehalfError('config-invalid', `${where}: "{" without "}"`);
    const field = rest.slice(open + 1, close).trim();
    const get = (FIELDS as Record<string, Part>)[field];
    if (get === undefined) throw new BehalfError('config-invalid', `${where}: unknown placeholder {${field}} (known: ${TEMPLATE_FIELDS.join(', ')})`);
    parts.push(get);
    rest = rest.slice(close + 1);
  }
  for (const p of parts) {
    if (typeof p === 'string' && !/^[\x20-\x7e\t]*$/.test(p)) throw new BehalfError('config-invalid', `${where}: the text holds characters not allowed in a header`);
  }

  return {
    name: header.toLowerCase(),
    render(user, directory) {
      let out = '';
      for (const p of parts) {
        if (typeof p === 'string') {
          out += p;
          continue;
        }
        const v = p(user, directory);
        if (v === undefined) return { problem: 'missing' };
        if (typeof v === 'string') {
          if (v === '') return { problem: 'missing' };
          out += v;
        } else {
          // A list member holding "," would read as two members on the backend: "admin,x" must
          // not become the roles "admin" and "x".
          if (v.some((m) => m.includes(','))) return { problem: 'invalid' };
          out += v.join(',');
        }
      }
      return isSafeHeaderValue(out) ? { value: out } : { problem: 'invalid' };
    },
  };
}
