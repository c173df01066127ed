/**
 * `npm start`: runs the HR demo on fixed loopback ports until Ctrl-C, and prints how to try it.
 * DEV ONLY: the identity provider started here signs tokens for anyone who asks.
 */
import { launchDemo } from './launch.js';
import { removeStackFile, stackOf, writeStackFile } from './stack.js';

const ports = { gateway: 8080, idp: 9400, hr: 9401 };
const demo = await launchDemo({ ports, stateDir: '.behalf/demo' });
// `npm run demo` finds this stack here and sends its requests through it (into the same trail).
await writeStackFile(stackOf(demo));
const mint = `curl -s -X POST ${demo.idp.url}/token -d grant_type=urn:behalf:dev:user -d user=alice -d 'scope=reviews:read reviews:write' | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token'`;
console.log(`
behalf HR demo is running (DEV ONLY identity provider: do not use it for anything real).

  gateway      ${demo.gatewayUrl}          (routes: /api/hr -> HR backend)
  dev IdP      ${demo.idp.url}   users: alice, bob, carol, mallory
  HR backend   ${demo.hr.url}   (trusts only behalf's signed assertion)

Try it:
  TOKEN=$(${mint})
  curl -s ${demo.gatewayUrl}/api/hr/reviews -H "Authorization: Bearer $TOKEN"
  curl -s ${demo.gatewayUrl}/api/hr/reviews/mallory -H "Authorization: Bearer $TOKEN"   # 403
  npx behalf audit tail --store ${demo.stateDir}/audit
  npm run demo        # the whole story, side by side, through this stack (its requests land in this trail)

MCP (tools get_reviews, list_my_visible_reviews, add_review, filtered per user):
  endpoint     ${demo.gatewayUrl}/mcp   (OAuth: the client discovers the dev IdP from the 401)
  see docs/mcp.md "Connecting clients" for Claude, ChatGPT and the MCP Inspector

Press Ctrl-C to stop.`);

const stop = () => void removeStackFile(demo.stateDir).then(() => demo.close()).then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
