import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BehalfError } from '../errors.js';

/**
 * The directory an embedded audit store lives in, from `audit.store`:
 * - `file:///abs/dir` (a file URL), `file:<dir>`, or a plain path;
 * - a relative path is resolved against `baseDir` (the gateway passes the config file's folder).
 *
 * @throws BehalfError `config-invalid` for a URL scheme the embedded store cannot serve
 *         (`postgres://` stores are opened by `openAuditStore`, not here).
 */
export function resolveAuditDir(store: string, baseDir: string): string {
  let path = store;
  if (/^file:\/\//i.test(store)) {
    try {
      path = fileURLToPath(store);
    } catch (err) {
      throw new BehalfError('config-invalid', `audit.store: "${store}" is not a valid file URL`, { cause: err });
    }
  } else if (/^file:/i.test(store)) {
    path = store.slice('file:'.length);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(store)) {
    const scheme = store.slice(0, store.indexOf(':'));
    throw new BehalfError('config-invalid', `audit.store: the "${scheme}" store is not available; use a directory path or file:<dir>`);
  }
  if (path === '') throw new BehalfError('config-invalid', 'audit.store: the directory is empty');
  return isAbsolute(path) ? path : resolve(baseDir, path);
}
