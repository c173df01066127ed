import { z } from 'zod';

/** Field types shared by the config schema's sections (schema.ts, schema-operations.ts). */

export const httpUrl = z
  .string()
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without credentials');

export const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-"');
export const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a valid HTTP header name');
export const method = z
  .string()
  .transform((m) => m.toUpperCase())
  .pipe(z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']));
export const pathPrefix = z.string().regex(/^\/[^?#\s]*$/, 'must start with "/" and hold no query, fragment or spaces');
/**
 * A tool name, or a pattern ending in `*` (`hr.*`, `hr.get_*`, `*`): see lib/tool-pattern.ts.
 * Tool names never hold `*`, so a pattern cannot be taken for a name.
 */
export const toolPattern = z.string().min(1).regex(/^[^*]*\*?$/, '"*" may only end a tool pattern ("hr.*", "hr.get_*", "*")');

/** How assertions are signed: `batched` (one signature per batch) or `jwt` (one per request). */
export const assertionForm = z.enum(['batched', 'jwt']);

/**
 * What an audit record keeps of a tool's arguments or a route's query (audit/kept-values.ts):
 * `scalars` (top-level strings, numbers, booleans), `all`, `none`, or a list of top-level names.
 * Credentials are digested and strings bounded whatever the setting.
 */
export const keepSetting = z.union([z.enum(['scalars', 'all', 'none']), z.array(z.string().min(1).max(64)).max(64)]);
