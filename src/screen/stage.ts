import { DEFAULTS } from '../config/defaults.js';
import { canonicalJson } from '../lib/canonical-json.js';
import { EMPTY_QUERY, readQuery, repeatedNames } from '../lib/canonical-query.js';
import { bodyDigest, EMPTY_BODY_DIGEST } from '../lib/digest.js';
import { jsonBoundsOf } from '../lib/json-scan.js';
import { isJsonContentType, parseJsonBody, readBody } from '../lib/read-body.js';
import { digestAndDecode } from '../lib/large-body.js';
import { deny } from '../pipeline/decision.js';
import type { Stage } from '../pipeline/stage.js';

/**
 * screen(in): what the request carries, checked before policy reads it.
 * - A route request: the query is read once (`lib/canonical-query.ts`): a name given twice
 *   (compared after percent-decoding and case folding) is 400 `query-repeated` unless the route
 *   sets `query.repeated: allow`, a bad percent-encoding 400 `query-malformed`; the detail names
 *   the parameter, never a value. Then the body is bounded and read (`route.maxBodyBytes`, default
 *   `server.maxBodyBytes`; 413 past it), digested (the digest the signed assertion and the
 *   audit record carry) and, when it says it is JSON, parsed for policy (400 `bad-request` when
 *   it is not, 400 `json-duplicate-key` when an object names a key twice, 400 `json-too-deep` or
 *   413 `json-too-many-values` past `server.maxJsonDepth` / `server.maxJsonValues`).
 * - A tool call: arguments larger than the tool accepts (`tools[].maxArgumentBytes` or
 *   `upstreams[].maxArgumentBytes`, default `mcp.maxArgumentBytes`; bytes of their JSON text as
 *   the door measured it while parsing) are refused (413 `arguments-too-large`) before anything
 *   walks them; then they are checked against the tool's input schema, so a policy
 *   condition never reads a malformed argument and an invalid call never reaches a backend (400
 *   `invalid-arguments` naming the field, never a value); then digested: `sha256:` + base64url of
 *   their canonical JSON, which the assertion (`args`) and the record carry.
 * - A prompt: its arguments are digested the same way.
 *
 * This does NOT look for personal data, secrets or injected instructions (issue "Screen what
 * flows both ways"), and does NOT read a body the door already read to learn the target.
 */
export const screenInStage: Stage = async (ctx, deps) => {
  const target = ctx.target;
  switch (target?.kind) {
    case 'route': {
      if (ctx.search.length > 1) {
        const q = readQuery(ctx.search, target.route.query?.repeated);
        if (!q.ok) return deny(400, q.problem.reason, 'ambiguous query', { detail: q.problem.detail });
        ctx.query = q.query;
        const repeated = target.route.query?.repeated === 'allow' ? repeatedNames(q.query) : [];
        if (repeated.length > 0) ctx.detail = `query parameters repeated (allowed by the route): ${repeated.join(', ')}`;
      } else {
        ctx.query = EMPTY_QUERY;
      }
      const read = await readBody(ctx.req, target.route.maxBodyBytes ?? deps.config.server.maxBodyBytes);
      if (!read.ok) return read.decision;
      if (read.body === undefined) {
        ctx.json = null;
        ctx.bodyDigest = EMPTY_BODY_DIGEST;
        return undefined;
      }
      ctx.body = read.body;
      ctx.bytesIn = read.body.length;
      const contentType = ctx.req.headers['content-type'];
      const { digest, text } = await digestAndDecode(read.body, isJsonContentType(contentType));
      ctx.bodyDigest = digest;
      const body = text ?? read.body;
      const parsed = parseJsonBody(body, contentType, jsonBoundsOf(deps.config.server));
      if (!parsed.ok) return parsed.decision;
      ctx.json = parsed.json;
      return undefined;
    }
    case 'tool': {
      const name = target.tool?.definition.name ?? target.name;
      const limit = target.tool?.source.maxArgumentBytes?.(name) ?? deps.config.mcp?.maxArgumentBytes ?? DEFAULTS.toolMaxArgumentBytes;
      if (target.argumentsBytes !== undefined && target.argumentsBytes > limit) {
        return deny(413, 'arguments-too-large', `arguments are larger than the tool accepts (${limit} bytes)`, { detail: `arguments of ${target.argumentsBytes} bytes > ${limit}` });
      }
      const check = deps.tools?.validateArguments(name, target.arguments) ?? { ok: false, message: 'no tools are served' };
      if (!check.ok) return deny(400, 'invalid-arguments', check.message, { detail: check.message });
      ctx.argumentsDigest = bodyDigest(canonicalJson(target.arguments));
      return undefined;
    }
    case 'prompt':
      ctx.argumentsDigest = bodyDigest(canonicalJson(target.arguments));
      return undefined;
    default:
      return undefined;
  }
};
