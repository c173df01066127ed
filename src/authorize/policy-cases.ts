import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { Identity } from '../authenticate/identity.js';
import type { RouteConfig } from '../config/schema.js';
import { BehalfError } from '../errors.js';
import { EMPTY_QUERY, readQuery } from '../lib/canonical-query.js';
import { parseJsonBody } from '../lib/read-body.js';
import { deny, type Decision } from '../pipeline/decision.js';
import { REASONS } from '../pipeline/reasons.js';
import type { DirectorySnapshot } from '../resolve/directory.js';
import { compileRoutes, routeAllowsMethod } from '../resolve/route-match.js';
import type { Policy } from './policy.js';

/**
 * Policy test cases (`behalf policy test`): a YAML file of requests and the decision each must get.
 *
 * ```yaml
 * cases:
 *   - name: Alice reads Bob's review
 *     user: { id: alice, scopes: [hr.read] }
 *     request: { method: GET, path: /api/hr/reviews/bob }   # route inferred from routes[].path
 *     expect: { decision: allow, rule: managers-read-team-reviews }
 * ```
 */

const strings = z.array(z.string().min(1)).default([]);
const scalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);

const caseSchema = z
  .strictObject({
    name: z.string().min(1),
    user: z.strictObject({
      id: z.string().min(1),
      roles: strings,
      groups: strings,
      scopes: strings,
      client: z.string().min(1).optional(),
      tenant: z.string().min(1).optional(),
      email: z.string().min(1).optional(),
      name: z.string().min(1).optional(),
      issuer: z.string().min(1).optional(),
    }),
    request: z.strictObject({
      route: z.string().min(1).optional(),
      tool: z.string().min(1).optional(),
      /** An MCP `resources/read` of this URI (`body` is then `{ uri }`). */
      resource: z.string().min(1).optional(),
      /** An MCP `prompts/get` of this prompt (`body` holds its arguments). */
      prompt: z.string().min(1).optional(),
      method: z.string().min(1).transform((m) => m.toUpperCase()).optional(),
      path: z.string().regex(/^\//, 'must start with "/"').optional(),
      /** Query parameters, added after any in `path`; a list gives a name several times (`assignee: [mallory, bob]`). */
      query: z.record(z.string(), z.union([scalar, z.array(scalar)])).optional(),
      body: z.unknown().optional(),
      /** A JSON body as the client sends it (text), read as the gateway reads it: a key given twice is `json-duplicate-key`. */
      json: z.string().optional(),
    }),
    expect: z.strictObject({
      decision: z.enum(['allow', 'deny']),
      rule: z.string().min(1).optional(),
      reason: z.string().refine((r) => Object.hasOwn(REASONS, r), 'not a known reason code (see docs/errors.md)').optional(),
      /** Whether the allowing rule holds the request for a person's approval (docs/approvals.md). */
      approval: z.boolean().optional(),
    }),
  })
  .refine((c) => c.request.path !== undefined || mcpCase(c.request), {
    message: 'set "path" (or "tool", "resource" or "prompt" for an MCP request)',
    path: ['request', 'path'],
  })
  .refine((c) => c.request.body === undefined || c.request.json === undefined, {
    message: 'set "body" or "json", not both',
    path: ['request', 'json'],
  });

/** An MCP request: decided as the MCP door does, with no route. */
function mcpCase(r: { tool?: string | undefined; resource?: string | undefined; prompt?: string | undefined }): boolean {
  return r.tool !== undefined || r.resource !== undefined || r.prompt !== undefined;
}

const fileSchema = z.union([z.strictObject({ cases: z.array(caseSchema).min(1) }), z.array(caseSchema).min(1)]);

/** One validated case. */
export type PolicyCase = z.output<typeof caseSchema>;

/** The outcome of one case. `problems` is empty when it passed. */
export interface CaseResult {
  readonly name: string;
  readonly passed: boolean;
  readonly expected: PolicyCase['expect'];
  readonly actual: Decision;
  /** The allowing rule holds the request until a person approves it (`approval` block). */
  readonly needsApproval: boolean;
  /** The route the case ran against (given, or inferred from the path), if any. */
  readonly route?: string;
  /** One line per difference: `decision: expected allow, got deny`. */
  readonly problems: readonly string[];
}

/**
 * Reads and validates a cases file. Throws `BehalfError('config-read-failed')` when it cannot be
 * read and `BehalfError('config-invalid')` listing every problem with its path (`cases[2].expect.decision: ...`).
 */
export async function loadPolicyCases(file: string): Promise<PolicyCase[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BehalfError('config-read-failed', `cannot read policy cases ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  return parsePolicyCases(text, file);
}

/** `loadPolicyCases` without the file read; `where` names the source in errors. */
export function parsePolicyCases(text: string, where = 'policy cases'): PolicyCase[] {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => `${e.linePos ? `line ${e.linePos[0].line}: ` : ''}${e.message.split('\n')[0] ?? ''}`);
    throw new BehalfError('config-invalid', `${where}: not valid YAML\n${lines.join('\n')}`);
  }
  const parsed = fileSchema.safeParse(doc.toJS({ maxAliasCount: 100 }));
  if (!parsed.success) {
    // A union reports the branch closest to the input; show paths as `cases[i]...` either way.
    const lines = parsed.error.issues.flatMap(issueLines).map(({ path, message }) => `${formatPath(path)}: ${message}`);
    throw new BehalfError('config-invalid', `${where}: ${lines.length} problem(s)\n${lines.join('\n')}`);
  }
  return Array.isArray(parsed.data) ? parsed.data : parsed.data.cases;
}

/** Settings for `runPolicyCases`. */
export interface RunCasesOptions {
  /** `config.routes`: a case without `route` or `tool` gets the route whose path prefix matches. */
  readonly routes?: readonly RouteConfig[];
  /** Ids of the rules with an `approval` block: an allow by one of them is reported as needing approval. */
  readonly approvalRules?: ReadonlySet<string>;
}

/**
 * Runs every case through `policy.decide`, as the gateway would after authentication: the
 * identity is built from the case's `user`, and directory attributes come from `directory`
 * (joined by user id). A case with `resource` or `prompt` is decided as the MCP door decides
 * `resources/read` and `prompts/get`. A case without `route`, `tool`, `resource` or `prompt` is
 * resolved against `options.routes`
 * like the gateway does (longest prefix, then the route's methods), so a path no route serves
 * is `route-not-found` and an unlisted method is `method-not-allowed`.
 *
 * An allow by a rule with an `approval` block is reported as needing approval (the approve
 * stage holds it until a person says yes); `expect.approval` checks that.
 *
 * This does NOT check tokens, issuers or rate limits, and does NOT run approvals: it tests policy only.
 */
export function runPolicyCases(policy: Policy, directory: DirectorySnapshot, cases: readonly PolicyCase[], options: RunCasesOptions = {}): CaseResult[] {
  const table = compileRoutes(options.routes ?? []);
  return cases.map((c) => {
    const method = c.request.method ?? (mcpCase(c.request) ? 'POST' : 'GET');
    const target = c.request.path ?? '/mcp';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const search = caseSearch(q < 0 ? '' : target.slice(q), c.request.query);
    let route = c.request.route;
    let actual: Decision | undefined;
    let routeConfig: RouteConfig | undefined;
    if (route === undefined && !mcpCase(c.request)) {
      const found = table.match(path);
      if (found === undefined) actual = deny(404, 'route-not-found', 'not found');
      else if (!routeAllowsMethod(found, method)) actual = deny(405, 'method-not-allowed', 'method not allowed');
      route = found?.id;
      routeConfig = found;
    } else if (route !== undefined) {
      routeConfig = options.routes?.find((r) => r.id === route);
    }
    // The query and a JSON text are read as screen(in) reads them, so an ambiguous one is refused here too.
    const read = readQuery(search, routeConfig?.query?.repeated ?? 'refuse');
    if (!read.ok) actual ??= deny(400, read.problem.reason, 'ambiguous query', { detail: read.problem.detail });
    const query = read.ok ? read.query : EMPTY_QUERY;
    let body: unknown = c.request.resource !== undefined ? { uri: c.request.resource } : (c.request.body ?? null);
    if (c.request.json !== undefined) {
      const parsed = parseJsonBody(Buffer.from(c.request.json, 'utf8'), 'application/json');
      if (parsed.ok) body = parsed.json;
      else actual ??= parsed.decision;
    }
    const identity = toIdentity(c.user);
    const entry = directory.get(c.user.id);
    actual ??= policy.decide({
      identity,
      ...(entry === undefined ? {} : { user: entry }),
      directory,
      ...(route === undefined ? {} : { route }),
      ...(c.request.tool === undefined ? {} : { tool: c.request.tool }),
      ...(c.request.resource === undefined ? {} : { resource: c.request.resource }),
      ...(c.request.prompt === undefined ? {} : { prompt: c.request.prompt }),
      method,
      path,
      query,
      body,
    });
    const needsApproval = actual.allow && actual.ruleId !== undefined && options.approvalRules?.has(actual.ruleId) === true;
    const problems = compare(c.expect, actual, needsApproval);
    return { name: c.name, passed: problems.length === 0, expected: c.expect, actual, needsApproval, ...(route === undefined ? {} : { route }), problems };
  });
}

/** The query string of a case: the one in its path, then its `query` entries (a list repeats the name). */
function caseSearch(fromPath: string, extra: PolicyCase['request']['query']): string {
  const pairs: string[] = [];
  if (fromPath.length > 1) pairs.push(fromPath.slice(1));
  for (const [k, v] of Object.entries(extra ?? {})) {
    for (const value of Array.isArray(v) ? v : [v]) pairs.push(`${encodeURIComponent(k)}=${encodeURIComponent(value)}`);
  }
  return pairs.length === 0 ? '' : `?${pairs.join('&')}`;
}

/** One line per case: `PASS  name  (allow, allowed-by-rule, rule x[, needs approval])` or `FAIL  name: differences`. */
export function formatCaseResult(r: CaseResult): string {
  const got = `${r.actual.allow ? 'allow' : 'deny'}, ${r.actual.reason}${r.actual.ruleId === undefined ? '' : `, rule ${r.actual.ruleId}`}${r.needsApproval ? ', needs approval' : ''}`;
  return r.passed ? `PASS  ${r.name}  (${got})` : `FAIL  ${r.name}: ${r.problems.join('; ')}  (got ${got})`;
}

/** `N passed, M failed` */
export function formatSummary(results: readonly CaseResult[]): string {
  const failed = results.filter((r) => !r.passed).length;
  return `${results.length - failed} passed, ${failed} failed`;
}

function compare(expected: PolicyCase['expect'], actual: Decision, needsApproval: boolean): string[] {
  const problems: string[] = [];
  if (expected.approval !== undefined && expected.approval !== needsApproval) problems.push(`approval: expected ${expected.approval ? 'needed' : 'not needed'}, got ${needsApproval ? 'needed' : 'not needed'}`);
  const decision = actual.allow ? 'allow' : 'deny';
  if (decision !== expected.decision) problems.push(`decision: expected ${expected.decision}, got ${decision}`);
  if (expected.reason !== undefined && expected.reason !== actual.reason) problems.push(`reason: expected ${expected.reason}, got ${actual.reason}`);
  if (expected.rule !== undefined && expected.rule !== actual.ruleId) problems.push(`rule: expected ${expected.rule}, got ${actual.ruleId ?? 'none'}`);
  return problems;
}

function toIdentity(u: PolicyCase['user']): Identity {
  return {
    id: u.id,
    issuer: u.issuer ?? 'policy-test',
    issuerId: 'policy-test',
    roles: u.roles,
    groups: u.groups,
    scopes: u.scopes,
    expiresAt: Number.MAX_SAFE_INTEGER,
    ...(u.tenant === undefined ? {} : { tenant: u.tenant }),
    ...(u.client === undefined ? {} : { client: u.client }),
    ...(u.email === undefined ? {} : { email: u.email }),
    ...(u.name === undefined ? {} : { name: u.name }),
  };
}

function issueLines(issue: z.core.$ZodIssue): { path: PropertyKey[]; message: string }[] {
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // Pick the branch that got furthest: the one whose issues have the longest paths.
    const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0]!;
    return best.flatMap((i) => issueLines({ ...i, path: [...issue.path, ...i.path] }));
  }
  const message = issue.code === 'unrecognized_keys' ? `unknown key(s): ${issue.keys.join(', ')}` : issue.message;
  return [{ path: issue.path, message }];
}

function depth(issues: readonly z.core.$ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

function formatPath(path: readonly PropertyKey[]): string {
  const parts = path[0] === 'cases' ? path.slice(1) : path;
  let out = 'cases';
  for (const part of parts) out += typeof part === 'number' ? `[${part}]` : `.${String(part)}`;
  return out;
}
