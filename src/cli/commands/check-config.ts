import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { auditStoreLocation } from '../../audit/auditor.js';
import { compileRule } from '../../authorize/rule-index.js';
import { pathFindings, toolReferenceFindings, type ConfigFinding, type ToolReference, type UpstreamTools } from '../../authorize/rule-reach.js';
import { shadowedRuleFindings } from '../../authorize/shadowed-rules.js';
import { ConfigError, loadConfigFile } from '../../config/load.js';
import { PLACEHOLDERS, substituteEnv } from '../../config/env-vars.js';
import { configSchema, policyRuleSchema, routeSchema, toolSchema, upstreamSchema, type Config } from '../../config/schema.js';
import { isBehalfError } from '../../errors.js';
import { compileOutgoingHeaders } from '../../forward/identity/outgoing-headers.js';
import { readPinsFile, toolPinsFile } from '../../mcp-upstream/pinning-file.js';
import { compileHttpTools } from '../../tools/http-tool.js';

export type { ConfigFinding } from '../../authorize/rule-reach.js';

/**
 * Everything `behalf check` finds in a config file, in one run: schema problems, then what the
 * other checks find in every part the schema accepted (a bad `server.port` does not hide a
 * condition that does not compile), then rules that can never apply. Each finding has its path.
 */

type Section = keyof Config;

/**
 * The parts of a config that validated. When the whole file did, `config` is it and `whole` has
 * every section. Otherwise each section is validated on its own and kept when valid, and in the
 * lists below each element that validates on its own is kept at its index (holes elsewhere:
 * iterate with `forEach`, which skips them, so paths keep their indices).
 */
interface Parts {
  readonly config: Partial<Config>;
  readonly whole: ReadonlySet<Section>;
  readonly routes: readonly Config['routes'][number][];
  readonly policies: readonly Config['policies'][number][];
  readonly tools: readonly Config['tools'][number][];
  readonly upstreams: readonly Config['upstreams'][number][];
}

/**
 * Checks a config file offline, as `serve` would at start plus what makes rules dead: every
 * schema and `${ENV}` problem, each policy condition and path pattern, identity header
 * templates, the audit store location, tool schemas and call templates, duplicate upstream
 * namespaces (errors); tool names and patterns that match no tool (errors; a note when an
 * upstream without pinned tools could serve them); path patterns outside their routes (errors);
 * allow rules shadowed by a deny rule (warnings). Reads the tool pins file next to the signing
 * key file when there is one.
 *
 * This does NOT load the directory, the signing key file or the audit trail, nor contact an
 * identity provider, an upstream or the audit database: `behalf serve` can still refuse to start
 * for those. A problem that depends on a part the schema refused is not looked for.
 */
export async function checkConfig(file: string, env: Readonly<Record<string, string | undefined>>, opts: { requireEnv?: boolean } = {}): Promise<ConfigFinding[]> {
  const findings: ConfigFinding[] = [];
  const error = (path: string, message: string) => findings.push({ severity: 'error', path, message });
  let parts: Parts;
  let baseDir: string;
  try {
    // An unset ${VAR} is checked with a placeholder and reported as a warning, unless required.
    const loaded = await loadConfigFile(file, env, { needs: opts.requireEnv === true ? 'all' : [] });
    parts = wholeParts(loaded.config);
    baseDir = loaded.baseDir;
    for (const v of loaded.unset ?? []) unsetWarning(findings, v.name, v.paths);
  } catch (err) {
    if (!isBehalfError(err)) throw err;
    if (!(err instanceof ConfigError)) return [{ severity: 'error', path: '', message: err.message }];
    for (const p of err.problems) error(p.path, p.message);
    const unset = new Map<string, string[]>();
    const raw = await readRaw(file, env, opts.requireEnv === true ? undefined : unset);
    for (const [name, paths] of unset) unsetWarning(findings, name, paths);
    if (raw === undefined) return findings;
    parts = partialParts(raw);
    baseDir = dirname(resolve(file));
  }
  const { config, whole } = parts;

  // The checks `serve` makes at start that need no I/O, each on every part it can run on.
  const thrown = (check: () => unknown) => {
    try {
      check();
    } catch (err) {
      if (!isBehalfError(err)) throw err;
      for (const line of err.message.split('\n')) findings.push(splitLine(line));
    }
  };
  parts.policies.forEach((rule, i) => {
    const problems: string[] = [];
    compileRule(rule, i, problems);
    for (const line of problems) findings.push(splitLine(line));
  });
  // When `server` is invalid, a reserved name stands in for its URL: header templates do not depend on it.
  const server = whole.has('server') ? config.server : undefined;
  parts.routes.forEach((route) =>
    thrown(() => compileOutgoingHeaders(route, { publicUrl: server?.publicUrl ?? 'https://gateway.invalid', serverStripHeaders: server?.stripHeaders ?? [] })),
  );
  if (config.audit !== undefined) thrown(() => auditStoreLocation(config.audit!.store, baseDir));
  if (whole.has('routes')) thrown(() => compileHttpTools({ tools: parts.tools as Config['tools'], routes: config.routes! }));
  const namespaces = new Map<string, string>();
  parts.upstreams.forEach((u, i) => {
    const ns = u.namespace ?? u.id;
    const other = namespaces.get(ns);
    if (other !== undefined) error(`upstreams[${i}].namespace`, `"${ns}" is already used by upstream "${other}"`);
    namespaces.set(ns, u.id);
  });

  // Rules that can never apply.
  findings.push(...shadowedRuleFindings(parts.policies));
  if (whole.has('policies') && whole.has('routes') && whole.has('mcp')) {
    const rules = config.policies!.map((p, i) => ({
      at: `policies[${i}]`,
      routes: p.match.routes,
      mcpOnly: p.match.routes === undefined && (p.match.tools !== undefined || p.match.resources !== undefined || p.match.prompts !== undefined),
      paths: p.match.paths,
    }));
    const routes = config.routes!.map((r) => ({ id: r.id, path: r.path, caseInsensitive: r.pathRules.caseInsensitive }));
    findings.push(...pathFindings(rules, routes, config.mcp === undefined ? undefined : config.mcp.path));
  }
  if (whole.has('policies') && whole.has('limits') && whole.has('tools') && whole.has('upstreams') && whole.has('signing')) {
    const refs: ToolReference[] = [];
    config.policies!.forEach((p, i) => p.match.tools?.forEach((name, j) => refs.push({ path: `policies[${i}].match.tools[${j}]`, name })));
    config.limits!.rules.forEach((r, i) => r.match.tools?.forEach((name, j) => refs.push({ path: `limits.rules[${i}].match.tools[${j}]`, name })));
    if (refs.length > 0) {
      const pinned = await pinnedTools(config as Pick<Config, 'signing' | 'upstreams'>, baseDir, findings);
      const configTools = config.tools!.map((t) => t.name);
      findings.push(...toolReferenceFindings(refs, { configTools, upstreams: pinned }));
    }
  }
  return dedupe(findings);
}

/** The upstreams with their pinned tools (none when the pins file cannot be read: a warning says so). */
async function pinnedTools(config: Pick<Config, 'signing' | 'upstreams'>, baseDir: string, findings: ConfigFinding[]): Promise<UpstreamTools[]> {
  let pins: Awaited<ReturnType<typeof readPinsFile>> | undefined;
  if (config.upstreams.length > 0) {
    try {
      pins = await readPinsFile(toolPinsFile(config, baseDir));
    } catch (err) {
      if (!isBehalfError(err)) throw err;
      findings.push({ severity: 'warning', path: 'signing.keyFile', message: `${err.message}: upstream tool names are not checked` });
    }
  }
  return config.upstreams.map((u) => {
    const names = u.pinning === 'off' || pins === undefined ? [] : [...pins.tools].filter(([, e]) => e.upstream === u.id).map(([name]) => name);
    return { id: u.id, namespace: u.namespace ?? u.id, pinned: names.length === 0 ? undefined : names };
  });
}

function wholeParts(config: Config): Parts {
  return { config, whole: new Set(Object.keys(configSchema.shape) as Section[]), routes: config.routes, policies: config.policies, tools: config.tools, upstreams: config.upstreams };
}

/** Each section, and each element of the lists checked element by element, validated on its own. */
function partialParts(raw: unknown): Parts {
  const tree = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const config: Record<string, unknown> = {};
  const whole = new Set<Section>();
  for (const [key, schema] of Object.entries(configSchema.shape) as [Section, z.ZodType][]) {
    const parsed = schema.safeParse(tree[key]);
    if (!parsed.success) continue;
    config[key] = parsed.data;
    whole.add(key);
  }
  const elements = <T>(key: Section, schema: z.ZodType<T>): T[] => {
    const list = tree[key];
    const out: T[] = [];
    if (!Array.isArray(list)) return out;
    list.forEach((item, i) => {
      const parsed = schema.safeParse(item);
      if (parsed.success) out[i] = parsed.data;
    });
    return out;
  };
  return {
    config: config as Partial<Config>,
    whole,
    routes: elements('routes', routeSchema),
    policies: elements('policies', policyRuleSchema),
    tools: elements('tools', toolSchema),
    upstreams: elements('upstreams', upstreamSchema),
  };
}

/** The file's tree with `${ENV}` replaced (missing variables left as written), or undefined when it is not YAML. */
/** An unset `${VAR}` that `check` filled with a placeholder: a warning naming where it is used. */
function unsetWarning(findings: ConfigFinding[], name: string, paths: readonly string[]): void {
  findings.push({ severity: 'warning', path: paths.join(', '), message: `environment variable ${name} is not set; checked with a placeholder value (behalf serve needs it)` });
}

/**
 * The file's tree with `${VAR}`s filled in, for checking part by part after the schema refused
 * the whole. Unset variables get a placeholder and are collected in `unset` (with
 * `--require-env` there is no `unset`: the failed load reported them as problems already).
 */
async function readRaw(file: string, env: Readonly<Record<string, string | undefined>>, unset = new Map<string, string[]>()): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(resolve(file), 'utf8');
  } catch {
    return undefined;
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return undefined;
  // A URL-shaped placeholder: most variables hold URLs or secrets, and it is a valid string too.
  return substituteEnv(doc.toJS({ maxAliasCount: 100 }), env, () => PLACEHOLDERS[1], unset);
}

/** `routes[1].upstream: message` -> its path and message (a line without a path keeps it whole). */
function splitLine(line: string): ConfigFinding {
  const m = /^([A-Za-z_][\w.-]*(?:\[\d+\][\w.-]*)*(?:\.[\w-]+)*): (.*)$/s.exec(line);
  return m === null ? { severity: 'error', path: '', message: line } : { severity: 'error', path: m[1]!, message: m[2]! };
}

function dedupe(findings: readonly ConfigFinding[]): ConfigFinding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.severity}\n${f.path}\n${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A finding as one line: `path: message` for an error, `warning: path: message`, `note: path: message`. */
export function formatFinding(f: ConfigFinding): string {
  const text = f.path === '' ? f.message : `${f.path}: ${f.message}`;
  return f.severity === 'error' ? text : `${f.severity}: ${text}`;
}
