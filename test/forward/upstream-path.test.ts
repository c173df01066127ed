import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { joinUpstreamPath } from '../../src/forward/upstream-path.js';

describe('upstream path', () => {
  const hr = { path: '/api/hr', upstream: 'http://hr.internal:8080/v1' };

  const cases: [string, { path: string; upstream: string }, string, string, string | undefined][] = [
    ['keeps the upstream base path', hr, '/api/hr/reviews/bob', '?year=2024', '/v1/reviews/bob?year=2024'],
    ['maps the bare prefix to the base path', hr, '/api/hr', '', '/v1'],
    ['keeps a trailing slash', hr, '/api/hr/', '', '/v1/'],
    ['accepts a search without "?"', hr, '/api/hr/x', 'a=1', '/v1/x?a=1'],
    ['drops an empty query', hr, '/api/hr/x', '?', '/v1/x'],
    ['uses "/" when base and rest are empty', { path: '/api/hr', upstream: 'http://hr.internal' }, '/api/hr', '', '/'],
    ['handles a root route', { path: '/', upstream: 'http://hr.internal/base/' }, '/x/y', '', '/base/x/y'],
    ['handles a prefix with a trailing slash', { path: '/api/hr/', upstream: 'http://hr.internal' }, '/api/hr/x', '', '/x'],
    ['puts the upstream query first', { path: '/api/hr', upstream: 'http://hr.internal/v1?tenant=acme' }, '/api/hr/x', '?a=1', '/v1/x?tenant=acme&a=1'],
    ['passes percent-encoding through untouched', hr, '/api/hr/people/J%C3%B6rg%20K', '', '/v1/people/J%C3%B6rg%20K'],
    ['refuses a path outside the prefix', hr, '/api/hrx/reviews', '', undefined],
    ['refuses a path that is not absolute', hr, 'api/hr/x', '', undefined],
    ['maps "" under a root route to the base path (a config tool\'s call.path "")', { path: '/', upstream: 'http://hr.internal/v1' }, '', '?a=1', '/v1?a=1'],
    ['refuses "" under any other route', hr, '', '', undefined],
    ['refuses ".."', hr, '/api/hr/../admin', '', undefined],
    ['refuses "."', hr, '/api/hr/./x', '', undefined],
    ['refuses an encoded ".."', hr, '/api/hr/%2e%2E/admin', '', undefined],
    ['refuses a half-encoded ".."', hr, '/api/hr/.%2e/admin', '', undefined],
    ['refuses an encoded slash', hr, '/api/hr/..%2fadmin', '', undefined],
    ['refuses an encoded backslash', hr, '/api/hr/x%5c..%5cadmin', '', undefined],
    ['refuses a raw backslash', hr, '/api/hr/x\\..\\admin', '', undefined],
    ['refuses an encoded NUL', hr, '/api/hr/x%00', '', undefined],
  ];
  for (const [name, route, path, search, expected] of cases) {
    it(`${name}: ${path}${search} -> ${String(expected)}`, () => {
      assert.equal(joinUpstreamPath(route, path, search), expected);
    });
  }
});
