import type { DirectoryEntry } from '../authenticate/identity.js';
import type { DirectoryProblem, RawDirectoryUser } from './directory-format.js';

/** The derived directory: every entry with `reports` and `team`, and what was wrong but not fatal. */
export interface DirectoryGraph {
  /** Entries by id, in source order, deeply frozen. */
  readonly entries: ReadonlyMap<string, DirectoryEntry>;
  readonly warnings: readonly DirectoryProblem[];
}

/**
 * Derives `reports` (direct reports) and `team` (everyone below, transitively) from each user's
 * `manager`. Both lists are in source order, `team` depth-first (a report, then that report's team).
 *
 * Two kinds of bad data are repaired with a warning rather than refused, because refusing would
 * make one typo in an HR export take every "my team" rule down:
 * - a `manager` that names no user: the attribute is kept, but nobody gains a report;
 * - a management cycle (`alice -> bob -> alice`, or someone managing themself): the manager link
 *   of the cycle member that comes first in the source is dropped, so the chain becomes a tree.
 *   Dropping a link can only shrink someone's team, never grow it.
 *
 * This does NOT bound the total size of the `team` lists: a pathological chain of n people makes
 * n²/2 entries. Directories are operator-supplied; very deep chains are a data problem.
 */
export function deriveTeams(users: readonly RawDirectoryUser[], paths: readonly string[]): DirectoryGraph {
  const warnings: DirectoryProblem[] = [];
  const index = new Map<string, number>();
  users.forEach((u, i) => index.set(u.id, i));

  // parent[i] = index of i's manager, or -1 when there is none we can use.
  const parent = users.map((u, i) => {
    if (u.manager === undefined) return -1;
    const m = index.get(u.manager);
    if (m === undefined) {
      warnings.push({ path: `${paths[i]}.manager`, message: `unknown user "${u.manager}"` });
      return -1;
    }
    return m;
  });
  const dropped = breakCycles(users, paths, parent, warnings);

  const children: number[][] = users.map(() => []);
  parent.forEach((p, i) => {
    if (p >= 0) children[p]!.push(i);
  });

  // Parents before children (breadth-first from the roots); teams are then built in reverse, so a
  // report's team is always ready before its manager's. Iterative: no recursion-depth limit.
  const order: number[] = [];
  parent.forEach((p, i) => {
    if (p < 0) order.push(i);
  });
  for (let k = 0; k < order.length; k++) for (const c of children[order[k]!]!) order.push(c);

  const teams: string[][] = users.map(() => []);
  for (let k = order.length - 1; k >= 0; k--) {
    const i = order[k]!;
    const team = teams[i]!;
    for (const c of children[i]!) {
      team.push(users[c]!.id);
      for (const member of teams[c]!) team.push(member);
    }
  }

  const entries = new Map<string, DirectoryEntry>();
  users.forEach((u, i) => {
    const base: RawDirectoryUser = dropped.has(i) ? withoutManager(u) : u;
    const entry: DirectoryEntry = {
      ...base,
      reports: Object.freeze(children[i]!.map((c) => users[c]!.id)),
      team: Object.freeze(teams[i]!),
    };
    entries.set(u.id, Object.freeze(entry));
  });
  return { entries, warnings };
}

/**
 * Every node has at most one parent, so each cycle is found by walking up from each node once.
 * Returns the indexes whose manager link was dropped.
 */
function breakCycles(users: readonly RawDirectoryUser[], paths: readonly string[], parent: number[], warnings: DirectoryProblem[]): Set<number> {
  const UNSEEN = 0;
  const ON_WALK = 1;
  const DONE = 2;
  const state = new Uint8Array(users.length);
  const dropped = new Set<number>();
  for (let start = 0; start < users.length; start++) {
    const walk: number[] = [];
    let node = start;
    while (node >= 0 && state[node] === UNSEEN) {
      state[node] = ON_WALK;
      walk.push(node);
      node = parent[node]!;
    }
    if (node >= 0 && state[node] === ON_WALK) {
      const cycle = walk.slice(walk.indexOf(node));
      const victim = cycle.reduce((a, b) => Math.min(a, b));
      const names = [...cycle.slice(cycle.indexOf(victim)), ...cycle.slice(0, cycle.indexOf(victim)), victim].map((i) => users[i]!.id);
      warnings.push({ path: `${paths[victim]}.manager`, message: `management cycle ${names.join(' -> ')} (each arrow points to the manager); this manager link is ignored` });
      parent[victim] = -1;
      dropped.add(victim);
    }
    for (const n of walk) state[n] = DONE;
  }
  return dropped;
}

function withoutManager(u: RawDirectoryUser): RawDirectoryUser {
  const { manager: _ignored, ...rest } = u;
  return rest;
}
