/**
 * `npm start`: runs the HR demo on fixed loopback ports until Ctrl-C, and prints how to try it.
 * DEV ONLY: the identity provider started here signs tokens for anyone who asks. Its key is kept
 * in the state folder, so tokens (and the gateway's view of them) survive a restart.
 */
import { fileURLToPath } from 'node:url';
import { launchDemo } from './launch.js';
import { removeStackFile, stackOf, writeStackFile } from './stack.js';
import { welcomeText } from './welcome.js';

const ports = { gateway: 8080, idp: 9400, hr: 9401 };
const demo = await launchDemo({ ports, stateDir: '.behalf/demo' });
// `npm run demo` finds this stack here and sends its requests through it (into the same trail).
await writeStackFile(stackOf(demo));
console.log(welcomeText(demo, fileURLToPath(new URL('../../', import.meta.url))));

const stop = () => void removeStackFile(demo.stateDir).then(() => demo.close()).then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
