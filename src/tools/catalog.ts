import { BehalfError } from '../errors.js';
import type { CatalogTool, ToolCatalog, ToolDefinition, ToolSource } from './types.js';

/**
 * The tool catalog: every tool the gateway serves, from every source (tools declared in the
 * config, tools of upstream MCP servers), looked up by exact name.
 */

/** The pin state of an upstream tool (see `CatalogTool.pin`); absent means not changed. */
export type PinState = NonNullable<CatalogTool['pin']>;

/** One source's tools, as given to {@link buildToolCatalog} or {@link MutableToolCatalog.replaceSource}. */
export interface CatalogSourceInput {
  readonly source: ToolSource;
  /** The tools, with their catalog names (an upstream's are already namespaced: `hr.get_reviews`). */
  readonly definitions: readonly ToolDefinition[];
  /** Pin state by catalog name, for an upstream whose definitions changed since they were pinned. */
  readonly pins?: ReadonlyMap<string, PinState>;
}

/** A catalog whose sources can be refreshed while the gateway runs. */
export interface MutableToolCatalog extends ToolCatalog {
  /**
   * Replaces the tools of the source with id `sourceId` (an upstream that announced
   * `notifications/tools/list_changed`, or whose pins were reviewed). All or nothing: when a new
   * name is invalid or collides with another source's tool, it throws `config-invalid` and the
   * catalog is left as it was. Lookups that already returned a tool keep their object; the next
   * `get`/`list` sees the new set. Throws `config-invalid` for an unknown source id too.
   */
  replaceSource(sourceId: string, definitions: readonly ToolDefinition[], pins?: ReadonlyMap<string, PinState>): void;
  /** Bumped by every `replaceSource`; starts at 1. */
  readonly version: number;
  /** Calls `listener` after every `replaceSource` (for `notifications/tools/list_changed`). Returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/**
 * A valid tool name: 1-128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-` (the
 * MCP 2025-11-25 naming guidance, and the config's own rule). A source with a name outside this
 * is refused; an upstream source should filter (and log) such tools before handing them over.
 */
export function isValidToolName(name: unknown): name is string {
  return typeof name === 'string' && /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(name);
}

interface SourceSlot {
  readonly source: ToolSource;
  tools: readonly CatalogTool[];
}

/**
 * Builds the catalog from `sources` in order; `list()` keeps that order (sources, then each
 * source's definitions). Lookups go through a `Map`, never an object index, so `__proto__`,
 * `toString`, `constructor` or `get_reviews/` are unknown names unless a source really declares
 * exactly that name. Throws `config-invalid` at start for a duplicate source id, an invalid tool
 * name, or a name declared twice (naming both sources: `tool "hr.x" is declared by the
 * config ("config") and by upstream "hr"`).
 *
 * Refreshing an upstream: call `replaceSource(id, definitions, pins)` with the source's full new
 * list; there is no need to rebuild the catalog, and the door sees the change at its next lookup.
 *
 * This does NOT decide who may see or call a tool (the policy does, per user:
 * `authorize/tool-listing.ts`), does NOT hide `blocked` tools (`list()` returns every tool; the
 * door filters on `pin`), and does NOT validate input schemas (`screen/validate-arguments.ts`).
 */
export function buildToolCatalog(sources: readonly CatalogSourceInput[]): MutableToolCatalog {
  const slots = new Map<string, SourceSlot>();
  for (const s of sources) {
    if (slots.has(s.source.id)) throw new BehalfError('config-invalid', `tool source "${s.source.id}" is given twice`);
    slots.set(s.source.id, { source: s.source, tools: [] });
  }
  for (const s of sources) slots.get(s.source.id)!.tools = toCatalogTools(s.source, s.definitions, s.pins);

  let index = indexOf(slots);
  let all = listOf(slots);
  let version = 1;
  const listeners = new Set<() => void>();

  return {
    list: () => all,
    get: (name) => (typeof name === 'string' ? index.get(name) : undefined),
    get version() {
      return version;
    },
    replaceSource(sourceId, definitions, pins) {
      const slot = slots.get(sourceId);
      if (slot === undefined) throw new BehalfError('config-invalid', `unknown tool source "${sourceId}"`);
      const tools = toCatalogTools(slot.source, definitions, pins);
      const next = new Map(slots);
      next.set(sourceId, { source: slot.source, tools });
      const nextIndex = indexOf(next); // throws on a collision before anything changes
      slot.tools = tools;
      index = nextIndex;
      all = listOf(slots);
      version += 1;
      for (const listener of listeners) listener();
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function toCatalogTools(source: ToolSource, definitions: readonly ToolDefinition[], pins: ReadonlyMap<string, PinState> | undefined): readonly CatalogTool[] {
  const seen = new Set<string>();
  const out: CatalogTool[] = [];
  for (const definition of definitions) {
    const name: unknown = definition.name;
    if (!isValidToolName(name)) {
      throw new BehalfError('config-invalid', `tool source "${source.id}": invalid tool name ${JSON.stringify(String(name).slice(0, 140))}`);
    }
    if (seen.has(name)) throw new BehalfError('config-invalid', `tool "${name}" is declared twice by ${describe(source)}`);
    seen.add(name);
    const pin = pins?.get(name);
    out.push(Object.freeze(pin === undefined ? { definition, source } : { definition, source, pin }));
  }
  return Object.freeze(out);
}

function indexOf(slots: ReadonlyMap<string, SourceSlot>): Map<string, CatalogTool> {
  const index = new Map<string, CatalogTool>();
  for (const { tools } of slots.values()) {
    for (const tool of tools) {
      const held = index.get(tool.definition.name);
      if (held !== undefined) {
        throw new BehalfError('config-invalid', `tool "${tool.definition.name}" is declared by ${describe(held.source)} and by ${describe(tool.source)}`);
      }
      index.set(tool.definition.name, tool);
    }
  }
  return index;
}

function listOf(slots: ReadonlyMap<string, SourceSlot>): readonly CatalogTool[] {
  return Object.freeze([...slots.values()].flatMap((s) => s.tools));
}

function describe(source: ToolSource): string {
  return source.kind === 'http' ? `the config ("${source.id}")` : `upstream "${source.id}"`;
}
