import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/schema.js';
import { nestsDeeper } from '../lib/json-depth.js';
import { isValidToolName } from '../tools/catalog.js';
import { retryListing } from './failure-kind.js';
import { pinHash, pinnedDefinition, type ReviewedTool, type ToolPins } from './pinning.js';
import type { ToolDefinition } from '../tools/types.js';

/** One tool of an upstream as the catalog serves it. */
export interface ListedTool {
  /** The upstream's own name (what `tools/call` upstream uses). */
  readonly upstreamName: string;
  /** Catalog definition: name `<namespace>.<upstream name>`. */
  readonly definition: ToolDefinition;
  /** Pin hash of the definition as the upstream gave it (`tool-pinning.ts`). */
  readonly hash: string;
}

/** Tool names the gateway accepts from an upstream (the MCP 2025-11-25 guidance: no `/`, no spaces). */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
/** Bounds on one listing, so a misbehaving upstream cannot grow the catalog without end. */
const MAX_PAGES = 100;
const MAX_TOOLS = 2_000;
/** Most levels of nesting in a tool's definition (schemas included): pinning, ajv and `tools/list` read it, some recursively. */
const MAX_DEFINITION_DEPTH = 64;

const ANNOTATION_KEYS = ['title', 'readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const;

function catalogDefinition(name: string, tool: Tool): ToolDefinition {
  const annotations: Record<string, unknown> = {};
  for (const key of ANNOTATION_KEYS) if (tool.annotations?.[key] !== undefined) annotations[key] = tool.annotations[key];
  return Object.freeze({
    name,
    ...(tool.title !== undefined ? { title: tool.title } : {}),
    ...(tool.description !== undefined ? { description: tool.description } : {}),
    inputSchema: tool.inputSchema,
    ...(tool.outputSchema !== undefined ? { outputSchema: tool.outputSchema } : {}),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  });
}

/** What {@link listUpstreamTools} needs besides the session. */
export interface ListToolsOptions {
  /** Tool name prefix; `''`: the upstream's own names. */
  readonly namespace: string;
  readonly pins?: ToolPins;
  readonly log?: Logger;
  /** Names already reported as left out: each is logged once per connection, not per listing. */
  readonly warned: Set<string>;
}

/**
 * Reads every page of the upstream's `tools/list` (following `nextCursor`; at most 100 pages,
 * 2,000 tools, stopping at a repeated cursor), maps each tool to its catalog definition
 * (`<namespace>.<name>`, the standard annotations only) and its pin hash, and has the pins review
 * the listing (unless `pinning: off`). A server without the `tools` capability has no tools. A
 * page whose request broke in transit is asked for again (`retryListing`).
 *
 * This does NOT decide what is served: the pins' verdict is read later, per tool
 * (`ToolPins.status`). It leaves out, and logs once, a tool whose name is not 1-128 of
 * `A-Za-z0-9_.-`, a second tool of the same name, one whose namespaced name is not a valid
 * catalog name (over 128 characters), one that only runs as a task, and one whose definition
 * nests deeper than 64 levels (nothing recursive has read it before this check).
 */
export async function listUpstreamTools(client: Client, cfg: UpstreamConfig, opts: ListToolsOptions): Promise<ListedTool[]> {
  if (client.getServerCapabilities()?.tools === undefined) return [];
  const tools: Tool[] = [];
  const cursors = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES && tools.length < MAX_TOOLS; page++) {
    const from = cursor;
    const result = await retryListing(() => client.listTools(from === undefined ? {} : { cursor: from }, { timeout: cfg.timeoutMs }));
    tools.push(...result.tools);
    cursor = result.nextCursor;
    if (cursor === undefined || cursors.has(cursor)) break;
    cursors.add(cursor);
  }
  const leaveOut = (name: string, why: string) => {
    const shown = name.slice(0, 140);
    if (!opts.warned.has(shown) && opts.warned.size < MAX_TOOLS) opts.log?.warn({ tool: shown, why }, 'upstream tool left out');
    opts.warned.add(shown);
  };
  const seen = new Set<string>();
  const listed: ListedTool[] = [];
  const reviewed: ReviewedTool[] = [];
  for (const tool of tools.slice(0, MAX_TOOLS)) {
    const name = opts.namespace === '' ? tool.name : `${opts.namespace}.${tool.name}`;
    if (!TOOL_NAME.test(tool.name)) leaveOut(tool.name, 'invalid name');
    else if (seen.has(tool.name)) leaveOut(tool.name, 'listed twice');
    else if (!isValidToolName(name)) leaveOut(tool.name, opts.namespace === '' ? 'not a valid catalog name' : 'namespaced name over 128 characters');
    else if (tool.execution?.taskSupport === 'required') leaveOut(tool.name, 'runs only as a task');
    else if (nestsDeeper(tool, MAX_DEFINITION_DEPTH)) leaveOut(tool.name, `definition nested deeper than ${MAX_DEFINITION_DEPTH} levels`);
    else {
      seen.add(tool.name);
      const hash = pinHash(tool);
      listed.push({ upstreamName: tool.name, definition: catalogDefinition(name, tool), hash });
      reviewed.push({ name, hash, definition: pinnedDefinition(tool) });
    }
  }
  if (cfg.pinning !== 'off' && opts.pins !== undefined) await opts.pins.review(cfg.id, cfg.pinning, reviewed);
  return listed;
}
