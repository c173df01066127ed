import type { IncomingHttpHeaders } from 'node:http';
import type { JWTPayload } from 'jose';
import { BehalfError, type ErrorCode } from '../errors.js';
import { MAX_ASSERTION_LIFETIME_SECONDS } from '../forward/identity/assertion-claims.js';
import { BODY_DIGEST_PREFIX, bodyDigest, EMPTY_BODY_DIGEST } from '../lib/digest.js';
import { checkRequestBinding, checkTool } from './request-binding.js';

/** The caller the gateway vouched for, as read from a verified assertion. */
export interface VerifiedCaller {
  /** The user id (`sub`). */
  user: string;
  tenant?: string;
  email?: string;
  name?: string;
  roles: string[];
  groups: string[];
  /** The user token's scopes (from the space-separated `scope`). */
  scopes: string[];
  /** The acting client (LLM or agent), from `act.sub` or `azp`. */
  client?: string;
  /** The user's identity provider (`idp_iss`), not the gateway. */
  issuer: string;
  /** The MCP tool, for tool calls. */
  tool?: string;
  /** The assertion id. */
  jti: string;
  /** Every claim, for anything not mapped above. */
  claims: JWTPayload;
}

/** The parts of a request the verifier reads; a node:http `IncomingMessage` fits. */
export interface RequestLike {
  method?: string | undefined;
  /** Request target as received (`req.url`; in Express use `req.originalUrl`). */
  url?: string | undefined;
  headers: IncomingHttpHeaders;
}

const fail = (code: ErrorCode, message: string): BehalfError => new BehalfError(code, message);

function stringList(value: unknown, claim: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw fail('assertion-invalid', `the assertion claim "${claim}" is not a list of strings`);
  return value as string[];
}

function optionalString(claims: JWTPayload, name: string): string | undefined {
  const v = claims[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw fail('assertion-invalid', `the assertion claim "${name}" is not a string`);
  return v;
}

/**
 * The checks every assertion passes once its signature (or, batched, its root's signature and
 * its inclusion proof) and its `iss`, `aud` and times are verified, whichever its form: the
 * lifetime (`exp - iat` at most 60 s), a subject and an id, the request binding (`htm`, `htu`,
 * `htq`: `checkRequestBinding`), the tool (`checkTool` with `tools` and `expectTool`), the body
 * digest (`bdg`; without `body`, only the empty body's digest passes). Returns the caller, and
 * `exp` for the replay cache.
 *
 * This does NOT check the signature, `iss`, `aud` or the clock: the caller did. It does NOT
 * consult the replay cache: the caller does that last.
 */
export function callerFromClaims(
  claims: JWTPayload,
  req: RequestLike,
  body: Uint8Array | string | undefined,
  tools: ReadonlySet<string> | undefined,
  expectTool: string | undefined,
): { caller: VerifiedCaller; exp: number } {
  const { iat, exp, htm, htu, htq, bdg, sub, jti } = claims as Record<string, unknown>;
  if (typeof iat !== 'number' || typeof exp !== 'number' || exp - iat > MAX_ASSERTION_LIFETIME_SECONDS) {
    throw fail('assertion-invalid', `the assertion lives longer than ${MAX_ASSERTION_LIFETIME_SECONDS} s`);
  }
  if (typeof sub !== 'string' || sub === '' || typeof jti !== 'string' || jti === '') throw fail('assertion-invalid', 'the assertion lacks a subject or id');
  if (typeof htm !== 'string' || typeof htu !== 'string' || typeof bdg !== 'string' || !bdg.startsWith(BODY_DIGEST_PREFIX)) {
    throw fail('assertion-invalid', 'the assertion does not bind a request');
  }
  if (htq !== undefined && typeof htq !== 'string') throw fail('assertion-invalid', 'the assertion claim "htq" is not a string');
  checkRequestBinding(req.method, req.url, { htm, htu, htq });
  const tool = optionalString(claims, 'tool');
  checkTool(tool, tools, expectTool);
  if (body === undefined) {
    if (bdg !== EMPTY_BODY_DIGEST) throw fail('assertion-body-mismatch', 'the assertion binds a body: pass the raw request body to verify()');
  } else if (bodyDigest(body) !== bdg) {
    throw fail('assertion-body-mismatch', 'the request body differs from the one the assertion was issued for');
  }

  const scope = optionalString(claims, 'scope') ?? '';
  const act = claims['act'];
  const actSub = typeof act === 'object' && act !== null && typeof (act as { sub?: unknown }).sub === 'string' ? (act as { sub: string }).sub : undefined;
  const client = actSub ?? optionalString(claims, 'azp');
  const caller: VerifiedCaller = {
    user: sub,
    roles: stringList(claims['roles'], 'roles'),
    groups: stringList(claims['groups'], 'groups'),
    scopes: scope === '' ? [] : scope.split(' ').filter((s) => s !== ''),
    issuer: optionalString(claims, 'idp_iss') ?? '',
    jti,
    claims,
  };
  const tenant = optionalString(claims, 'tenant');
  const email = optionalString(claims, 'email');
  const name = optionalString(claims, 'name');
  if (tenant !== undefined) caller.tenant = tenant;
  if (email !== undefined) caller.email = email;
  if (name !== undefined) caller.name = name;
  if (client !== undefined) caller.client = client;
  if (tool !== undefined) caller.tool = tool;

  return { caller, exp };
}
