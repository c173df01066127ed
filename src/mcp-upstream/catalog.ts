import type { Logger } from 'pino';
import { canonicalJson } from '../lib/canonical-json.js';
import type { CatalogSourceInput, MutableToolCatalog } from '../tools/catalog.js';
import type { Upstreams } from './upstreams.js';

/**
 * How the tool catalog learns the upstreams' tools. At start the gateway builds the catalog with
 * `upstreams.catalogInputs()` next to the config's tools (the upstreams are usually not
 * connected yet: they start with no tools); then {@link syncUpstreamCatalog} keeps it in step.
 */

/**
 * Applies every change of `upstreams` (a re-listing, a reconnection, a pin accepted or a
 * definition blocked) to `catalog` with `replaceSource`, once now and then on each change. A
 * source is replaced only when its tools or pin states really changed, so the catalog's version
 * (and the `list_changed` clients get) moves only for real changes. An upstream tool whose name
 * another source already serves (a config tool, say) is left out and logged, instead of the
 * whole upstream being refused. Returns a function that stops the syncing.
 *
 * This does NOT decide who sees a tool (policy) nor hide blocked tools (the door filters on
 * `pin`); it does NOT connect anything.
 */
export function syncUpstreamCatalog(upstreams: Upstreams, catalog: MutableToolCatalog, logger?: Logger): () => void {
  const applied = new Map<string, string>();
  const reported = new Set<string>();

  const apply = (input: CatalogSourceInput) => {
    const id = input.source.id;
    const definitions = input.definitions.filter((d) => {
      const held = catalog.get(d.name);
      if (held === undefined || held.source.id === id) return true;
      if (!reported.has(d.name)) logger?.error({ upstream: id, tool: d.name, heldBy: held.source.id }, 'upstream tool left out: another source serves that name');
      reported.add(d.name);
      return false;
    });
    const key = canonicalJson({ definitions, pins: [...(input.pins ?? new Map())].sort() });
    if (applied.get(id) === key) return;
    try {
      catalog.replaceSource(id, definitions, input.pins);
      applied.set(id, key);
    } catch (err) {
      logger?.error({ upstream: id, error: err instanceof Error ? err.message : 'error' }, 'upstream tools could not be put in the catalog');
    }
  };

  const syncAll = () => {
    for (const input of upstreams.catalogInputs()) apply(input);
  };
  syncAll();
  return upstreams.onChange(syncAll);
}
