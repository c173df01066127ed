// A request's context as the HTTP door opens it (pipeline/context.ts): one per request.
//   node --import tsx bench/micro/context.ts [--root <checkout>] [--ms N]
import type * as Context from '../../src/pipeline/context.js';
import { load, measure, ROOT } from './measure-src.js';

const { createContext } = await load<typeof Context>('pipeline/context.ts');
const req = { url: '/api/hr/reviews/bob', method: 'GET', headers: {} };
console.log(ROOT);
// Date.now() as the gateway's clock passes it: several requests share each millisecond under load.
await measure('createContext', () => createContext(req as never, {} as never, 'http', performance.now(), Date.now()));
