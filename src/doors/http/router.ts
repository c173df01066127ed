import type { IncomingMessage, ServerResponse } from 'node:http';

/** A handler that serves some requests of the public listener. */
export interface Mount {
  handles(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> | void;
}

/**
 * The public listener's router: the well-known documents, then the MCP endpoint (one exact
 * path), then every other request through the HTTP door's pipeline (which answers 404 for a path
 * no route serves, audited like any request).
 */
export function createRouter(mounts: readonly (Mount | undefined)[], fallback: (req: IncomingMessage, res: ServerResponse) => Promise<void>) {
  const active = mounts.filter((m): m is Mount => m !== undefined);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    for (const m of active) if (m.handles(req)) return m.handle(req, res);
    return fallback(req, res);
  };
}
