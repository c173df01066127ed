import type { Config, RouteConfig } from '../config/schema.js';
import type { CatalogTool } from '../tools/types.js';
import { compileKeep, type KeepPlan, type KeepSetting } from './kept-values.js';

/**
 * Which {@link KeepPlan} applies to a tool or a route, from the config: the tool's own
 * `tools[].audit.arguments`, its upstream's `upstreams[].audit.tools[<own name>]` or
 * `upstreams[].audit.arguments`, a route's `routes[].audit.query`, else `audit.arguments` /
 * `audit.query`. Plans are compiled once per validated (frozen) config and kept with it.
 */

interface Plans {
  readonly defaultArguments: KeepPlan;
  readonly defaultQuery: KeepPlan;
  /** Config tools by name. */
  readonly configTools: ReadonlyMap<string, KeepPlan>;
  /** Upstreams by id: their default, their per-tool plans by own name, and the prefix of their catalog names. */
  readonly upstreams: ReadonlyMap<string, { readonly plan: KeepPlan; readonly tools: ReadonlyMap<string, KeepPlan>; readonly prefix: string }>;
  readonly routes: WeakMap<RouteConfig, KeepPlan>;
}

const cache = new WeakMap<object, Plans>();

type PlanConfig = Pick<Config, 'audit' | 'tools' | 'upstreams'>;

function plansOf(config: PlanConfig): Plans {
  let plans = cache.get(config);
  if (plans !== undefined) return plans;
  // A config built by hand in a test may lack the audit defaults the schema fills in.
  const defaultArguments = compileKeep(config.audit.arguments ?? 'scalars');
  const defaultQuery = compileKeep(config.audit.query ?? 'scalars', true);
  const configTools = new Map<string, KeepPlan>();
  for (const t of config.tools ?? []) {
    const setting = t.audit?.arguments;
    if (setting !== undefined) configTools.set(t.name, compileKeep(setting));
  }
  const upstreams = new Map<string, { plan: KeepPlan; tools: Map<string, KeepPlan>; prefix: string }>();
  for (const u of config.upstreams ?? []) {
    const namespace = u.namespace ?? u.id;
    const tools = new Map<string, KeepPlan>();
    for (const [name, setting] of Object.entries(u.audit?.tools ?? {})) tools.set(name, compileKeep(setting as KeepSetting));
    upstreams.set(u.id, { plan: u.audit?.arguments === undefined ? defaultArguments : compileKeep(u.audit.arguments), tools, prefix: namespace === '' ? '' : `${namespace}.` });
  }
  plans = { defaultArguments, defaultQuery, configTools, upstreams, routes: new WeakMap() };
  cache.set(config, plans);
  return plans;
}

/**
 * The plan for the arguments of `tool` (a resolved catalog tool; undefined for a name the
 * catalog does not know, which gets `audit.arguments`).
 */
export function argumentsPlanOf(config: PlanConfig, tool: CatalogTool | undefined): KeepPlan {
  const plans = plansOf(config);
  if (tool === undefined) return plans.defaultArguments;
  const name = tool.definition.name;
  if (tool.source.kind === 'http') return plans.configTools.get(name) ?? plans.defaultArguments;
  const upstream = plans.upstreams.get(tool.source.id);
  if (upstream === undefined) return plans.defaultArguments;
  const own = name.startsWith(upstream.prefix) ? name.slice(upstream.prefix.length) : name;
  return upstream.tools.get(own) ?? upstream.plan;
}

/** The plan for prompt arguments: `audit.arguments`. */
export function promptPlanOf(config: PlanConfig): KeepPlan {
  return plansOf(config).defaultArguments;
}

/** The plan for the query of a request to `route`. */
export function queryPlanOf(config: PlanConfig, route: RouteConfig): KeepPlan {
  const plans = plansOf(config);
  let plan = plans.routes.get(route);
  if (plan === undefined) {
    const setting = route.audit?.query;
    plan = setting === undefined ? plans.defaultQuery : compileKeep(setting, true);
    plans.routes.set(route, plan);
  }
  return plan;
}
