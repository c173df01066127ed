import { bodyDigest, EMPTY_BODY_DIGEST } from '../lib/digest.js';
import type { Stage } from '../pipeline/pipeline.js';
import { parseJsonBody, readBody } from '../lib/read-body.js';

/** screen(in): bounds and reads the request body, parses JSON for policy, and digests it. */
export const screenInStage: Stage = async (ctx, deps) => {
  const max = ctx.route?.maxBodyBytes ?? deps.config.server.maxBodyBytes;
  const read = await readBody(ctx.req, max);
  if (!read.ok) return read.decision;
  if (read.body === undefined) {
    ctx.json = null;
    ctx.bodyDigest = EMPTY_BODY_DIGEST;
    return undefined;
  }
  ctx.body = read.body;
  ctx.bytesIn = read.body.length;
  ctx.bodyDigest = bodyDigest(read.body);
  const parsed = parseJsonBody(read.body, ctx.req.headers['content-type']);
  if (!parsed.ok) return parsed.decision;
  ctx.json = parsed.json;
  return undefined;
};
