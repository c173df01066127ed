import type { RouteConfig, ToolConfig } from '../config/schema.js';
import { joinUpstreamPath } from '../forward/upstream-path.js';

/**
 * How a config tool's arguments become an HTTP request (`tools[].call`): the path and query
 * templates (`/reviews/{employee}`, `year: "{year}"`) and the JSON body mapping (`"$args"`, or an
 * object whose values may be `{arg}` templates). Compiled once at start; rendering is string work.
 */

/** The request for one call, or why there is none (the message is for the model: no secret). */
export type RenderedCall =
  | { readonly ok: true; readonly target: string; readonly body: Buffer | undefined }
  | { readonly ok: false; readonly message: string };

/** A compiled `call` of one tool. */
export interface CallTemplate {
  /** The upstream request target (route upstream base path + path + query) and the exact body bytes. */
  render(args: Readonly<Record<string, unknown>>): RenderedCall;
}

type Part = string | { readonly arg: string };
/** A compiled body value: a literal, one argument's value, all arguments, text with templates, a list or an object. */
type BodyNode =
  | { readonly kind: 'literal'; readonly value: unknown }
  | { readonly kind: 'arg'; readonly arg: string }
  | { readonly kind: 'all' }
  | { readonly kind: 'text'; readonly parts: readonly Part[] }
  | { readonly kind: 'list'; readonly items: readonly BodyNode[] }
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, BodyNode])[] };

const OMIT = Symbol('omit');
const ARG_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** RFC 3986 path characters (pchar and "/"); `?`, `#`, spaces and raw non-ASCII are not. */
const PATH_LITERAL = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;

/** Parses `a{x}b` into parts; throws an Error (without a path prefix) for a malformed template. */
export function parseTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let rest = template;
  while (rest.length > 0) {
    const open = rest.indexOf('{');
    const literal = open === -1 ? rest : rest.slice(0, open);
    if (literal.includes('}')) throw new Error('"}" without "{"');
    if (literal !== '') parts.push(literal);
    if (open === -1) break;
    const close = rest.indexOf('}', open);
    if (close === -1) throw new Error('"{" without "}"');
    const arg = rest.slice(open + 1, close);
    if (!ARG_NAME.test(arg)) throw new Error(`{${arg.slice(0, 70)}} is not an argument name (letters, digits, "_", "-")`);
    parts.push({ arg });
    rest = rest.slice(close + 1);
  }
  return parts;
}

/** An argument's own value; never one inherited from Object.prototype (`{constructor}`). */
function argOf(args: Readonly<Record<string, unknown>>, name: string): unknown {
  return Object.hasOwn(args, name) ? args[name] : undefined;
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * Compiles `tool.call` for `route`. Throws an Error listing every problem, each prefixed with its
 * config path under `where` (`tools[2].call.path: ...`): a malformed template, a path literal
 * with characters not allowed in a path, a placeholder that is not one of the schema's
 * `properties` (when it lists any), a path placeholder the schema does not `require`, or a body
 * on GET/HEAD.
 *
 * Rendering (per call):
 * - path: each `{arg}` is the argument as text (string, finite number or boolean),
 *   percent-encoded with `encodeURIComponent`. An empty, absent or non-scalar value, or one
 *   holding `/`, `\` or NUL, or a result with a `.`/`..` segment, is refused with a message and
 *   no request: a backend that decodes `%2F` or resolves dot segments could otherwise be led
 *   outside the path the template names. The result goes under the route's upstream base path
 *   with `joinUpstreamPath`, the function the HTTP door uses.
 * - query: a parameter whose arguments are absent (or null) is left out; a template that is
 *   exactly `{arg}` with an array value gives the parameter once per item; names and values are
 *   percent-encoded.
 * - body: `"$args"` is all the arguments as JSON. In an object body, a string that is exactly
 *   `{arg}` becomes the argument's JSON value (left out when absent; `null` in a list), `"$args"`
 *   all arguments, and text around templates is joined (objects and lists as JSON text; left
 *   out when an argument is absent or null); anything else is a literal. Sent as `application/json` (UTF-8).
 *
 * This does NOT validate the arguments against the schema (the screen stage did) nor decide
 * whether the call is allowed; it only maps already-validated arguments onto a request.
 */
export function compileCallTemplate(tool: ToolConfig, route: Pick<RouteConfig, 'upstream'>, where: string): CallTemplate {
  const problems: string[] = [];
  const schema = tool.inputSchema;
  const props = typeof schema['properties'] === 'object' && schema['properties'] !== null ? Object.keys(schema['properties']) : undefined;
  const required = Array.isArray(schema['required']) ? (schema['required'] as unknown[]) : [];
  const known = (arg: string, at: string, mustBeRequired: boolean) => {
    if (props !== undefined && !props.includes(arg)) problems.push(`${at}: {${arg}} is not an argument of the tool (inputSchema.properties)`);
    else if (mustBeRequired && props !== undefined && !required.includes(arg)) problems.push(`${at}: {${arg}} is in the path, so inputSchema.required must list it`);
  };
  const parse = (template: string, at: string): Part[] => {
    try {
      return parseTemplate(template);
    } catch (err) {
      problems.push(`${at}: ${(err as Error).message}`);
      return [];
    }
  };

  const pathParts = parse(tool.call.path, `${where}.path`);
  for (const p of pathParts) {
    if (typeof p === 'string' && !PATH_LITERAL.test(p)) problems.push(`${where}.path: "${p.slice(0, 70)}" holds characters not allowed in a path (put a query in call.query)`);
    if (typeof p !== 'string') known(p.arg, `${where}.path`, true);
  }
  const query = Object.entries(tool.call.query).map(([name, template]) => {
    const parts = parse(template, `${where}.query.${name}`);
    for (const p of parts) if (typeof p !== 'string') known(p.arg, `${where}.query.${name}`, false);
    return { name: encodeURIComponent(name), parts };
  });
  const method = tool.call.method;
  let body: BodyNode | undefined;
  if (tool.call.body !== undefined) {
    if (method === 'GET' || method === 'HEAD') problems.push(`${where}.body: a ${method} request carries no body`);
    body = compileBody(tool.call.body, `${where}.body`, problems, known);
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));

  return {
    render(args) {
      let path = '';
      for (const p of pathParts) {
        if (typeof p === 'string') {
          path += p;
          continue;
        }
        const text = scalarText(argOf(args, p.arg));
        if (text === undefined || text === '') return { ok: false, message: `argument "${p.arg}" is needed for the path` };
        if (/[/\\\u0000]/.test(text)) return { ok: false, message: `argument "${p.arg}" cannot hold "/", "\\" or NUL` };
        path += encodeURIComponent(text);
      }
      const pairs: string[] = [];
      for (const q of query) {
        const single = q.parts.length === 1 && typeof q.parts[0] !== 'string' ? argOf(args, q.parts[0]!.arg) : OMIT;
        if (Array.isArray(single)) {
          for (const item of single) {
            const text = scalarText(item);
            if (text === undefined) return { ok: false, message: `argument "${(q.parts[0] as { arg: string }).arg}" holds an item that cannot go in a query` };
            pairs.push(`${q.name}=${encodeURIComponent(text)}`);
          }
          continue;
        }
        const text = renderText(q.parts, args);
        if (text === OMIT) continue;
        if (text === undefined) return { ok: false, message: `a query argument of "${q.name}" is not text, a number or a boolean` };
        pairs.push(`${q.name}=${encodeURIComponent(text)}`);
      }
      const target = joinUpstreamPath({ path: '/', upstream: route.upstream }, path, pairs.length === 0 ? '' : `?${pairs.join('&')}`);
      if (target === undefined) return { ok: false, message: 'the arguments make a path with a "." or ".." segment' };
      if (body === undefined) return { ok: true, target, body: undefined };
      const value = renderBody(body, args);
      return { ok: true, target, body: Buffer.from(JSON.stringify(value === OMIT ? {} : value), 'utf8') };
    },
  };
}

/** Text with templates: OMIT when an argument is absent or null, undefined when one is not a scalar. */
function renderText(parts: readonly Part[], args: Readonly<Record<string, unknown>>): string | undefined | typeof OMIT {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') {
      out += p;
      continue;
    }
    const v = argOf(args, p.arg);
    if (v === undefined || v === null) return OMIT;
    const text = scalarText(v);
    if (text === undefined) return undefined;
    out += text;
  }
  return out;
}

function compileBody(value: unknown, at: string, problems: string[], known: (arg: string, at: string, required: boolean) => void): BodyNode {
  if (value === '$args') return { kind: 'all' };
  if (typeof value === 'string') {
    if (!value.includes('{') && !value.includes('}')) return { kind: 'literal', value };
    let parts: Part[];
    try {
      parts = parseTemplate(value);
    } catch (err) {
      problems.push(`${at}: ${(err as Error).message}`);
      return { kind: 'literal', value };
    }
    for (const p of parts) if (typeof p !== 'string') known(p.arg, at, false);
    const only = parts.length === 1 ? parts[0] : undefined;
    return only !== undefined && typeof only !== 'string' ? { kind: 'arg', arg: only.arg } : { kind: 'text', parts };
  }
  if (Array.isArray(value)) return { kind: 'list', items: value.map((v, i) => compileBody(v, `${at}[${i}]`, problems, known)) };
  if (value !== null && typeof value === 'object') {
    return { kind: 'object', entries: Object.entries(value).map(([k, v]) => [k, compileBody(v, `${at}.${k}`, problems, known)] as const) };
  }
  return { kind: 'literal', value };
}

function renderBody(node: BodyNode, args: Readonly<Record<string, unknown>>): unknown {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'all':
      return args;
    case 'arg': {
      const v = argOf(args, node.arg);
      return v === undefined ? OMIT : v;
    }
    case 'text': {
      let out = '';
      for (const p of node.parts) {
        if (typeof p === 'string') {
          out += p;
          continue;
        }
        const v = argOf(args, p.arg);
        if (v === undefined || v === null) return OMIT;
        out += typeof v === 'string' ? v : JSON.stringify(v);
      }
      return out;
    }
    case 'list':
      return node.items.map((item) => {
        const v = renderBody(item, args);
        return v === OMIT ? null : v;
      });
    case 'object': {
      // A null-prototype object: a config key "__proto__" stays a plain key.
      const out = Object.create(null) as Record<string, unknown>;
      for (const [k, item] of node.entries) {
        const v = renderBody(item, args);
        if (v !== OMIT) out[k] = v;
      }
      return out;
    }
  }
}
