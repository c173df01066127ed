import { canonicalJson } from '../lib/canonical-json.js';
import type { McpStage } from '../doors/mcp/context.js';
import { RPC } from '../doors/mcp/protocol.js';
import { rpcDeny } from '../doors/mcp/respond.js';
import { bodyDigest } from '../lib/digest.js';

/**
 * screen(in) (MCP): a `tools/call`'s arguments are checked against the tool's input schema
 * before policy sees them, so a policy condition never reads a malformed argument and an invalid
 * call never reaches a backend: the client gets -32602 naming the field. Then the arguments are
 * digested (`sha256:` + base64url of their canonical JSON, the audit chain's serialisation), the
 * digest the signed assertion and the audit record carry.
 *
 * This does NOT look for PII, secrets or injection in the arguments, and does NOT touch other
 * methods (their params were checked by resolve, or are checked where they are answered).
 */
export const mcpScreenInStage: McpStage = (ctx, deps) => {
  const tool = ctx.mcp.tool;
  const args = ctx.mcp.args;
  if (tool === undefined || args === undefined) return undefined;
  const check = deps.validateArguments(tool.definition.name, args);
  if (!check.ok) {
    return rpcDeny(ctx, 200, 'invalid-arguments', RPC.invalidParams, `Invalid arguments for tool ${tool.definition.name}: ${check.message}`, {
      detail: check.message,
    });
  }
  ctx.mcp.argsDigest = bodyDigest(canonicalJson(args));
  return undefined;
};
