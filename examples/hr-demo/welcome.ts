/**
 * What `npm start` prints: where the demo runs and commands to try, each of which works as printed
 * from the repository root (test/cli/first-run.test.ts runs them).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import type { Demo } from './launch.js';

/**
 * How to run the CLI from a clone: `npx behalf` runs the built package (`dist/`, built by
 * `npm install`); when `dist/` is missing or older than `src/`, `npm run -s behalf --` runs the
 * sources instead (what `npm start` itself runs), so a printed command never runs stale code.
 */
export function cliCommand(repoDir: string): string {
  const built = join(repoDir, 'dist', 'cli', 'main.js');
  if (!existsSync(built)) return 'npm run -s behalf --';
  const builtAt = statSync(built).mtimeMs;
  return newestMtime(join(repoDir, 'src')) <= builtAt ? 'npx behalf' : 'npm run -s behalf --';
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** A path as typed from `repoDir`: relative when inside it, absolute otherwise. */
function fromRepo(repoDir: string, path: string): string {
  const rel = relative(repoDir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** The first-run text of the demo; `repoDir` is where its commands are meant to be run. */
export function welcomeText(demo: Pick<Demo, 'gatewayUrl' | 'idp' | 'hr' | 'stateDir'>, repoDir: string): string {
  const cli = cliCommand(repoDir);
  const store = fromRepo(repoDir, join(demo.stateDir, 'audit'));
  const mint = `curl -s -X POST ${demo.idp.url}/token -d grant_type=urn:behalf:dev:user -d user=alice -d 'scope=reviews:read reviews:write' | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token'`;
  return `
behalf HR demo is running (DEV ONLY identity provider: do not use it for anything real).

  gateway      ${demo.gatewayUrl}          (routes: /api/hr -> HR backend)
  dev IdP      ${demo.idp.url}   users: alice, bob, carol, dana, mallory (its key is kept in ${fromRepo(repoDir, join(demo.stateDir, 'dev-idp-key.json'))})
  HR backend   ${demo.hr.url}   (trusts only behalf's signed assertion)

Try it (from the repository root, in another terminal):
  TOKEN=$(${mint})
  curl -s ${demo.gatewayUrl}/api/hr/reviews -H "Authorization: Bearer $TOKEN"
  curl -s ${demo.gatewayUrl}/api/hr/reviews/mallory -H "Authorization: Bearer $TOKEN"   # 403
  ${cli} audit tail --store ${store}
  ${cli} audit query --store ${store} --decision deny
  ${cli} audit verify --store ${store}
  ${cli} policy test --config examples/hr-demo/behalf.yaml examples/hr-demo/policy-cases.yaml
  npm run demo        # the whole story, side by side, through this stack (its requests land in this trail)

MCP (tools get_reviews, list_my_visible_reviews, add_review, filtered per user):
  endpoint     ${demo.gatewayUrl}/mcp   (OAuth: the client discovers the dev IdP from the 401)
  see docs/mcp.md "Connecting clients" for Claude, ChatGPT and the MCP Inspector

Press Ctrl-C to stop.`;
}

/** The command lines of the text's "Try it" block, as a person pastes them (trailing `# comment`s removed). */
export function tryItCommands(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Try it'));
  if (start < 0) return [];
  const block: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('  ')) break;
    block.push(line.trim().replace(/\s+# [^'"]*$/, ''));
  }
  return block;
}
