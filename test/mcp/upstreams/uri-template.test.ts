import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import { compileTemplate, templateParts } from '../../../src/mcp-upstream/uri-template.js';

/**
 * Routing a `resources/read` by template: the gateway's matcher agrees with the MCP SDK's
 * `UriTemplate.match` (which upstream SDK servers use to answer), without its regular expressions.
 */

const CASES: [template: string, uris: string[]][] = [
  ['hr://reviews/{employee}', ['hr://reviews/bob', 'hr://reviews/', 'hr://reviews/bob/2025', 'hr://reviews/a,b', 'hr://reviewsbob']],
  ['test://template/{id}/data', ['test://template/123/data', 'test://template//data', 'test://template/1/2/data', 'test://template/123/datax']],
  ['file:///{+path}', ['file:///etc/hosts', 'file:///', 'file:///a,b/c']],
  ['docs://{lang}/{+path}', ['docs://en/a/b', 'docs://en/', 'docs:///a']],
  ['search://q{?term,page}', ['search://q?term=x&page=2', 'search://q?term=x', 'search://q?page=2&term=x', 'search://q?term=&page=2']],
  ['api://v1{/segment}', ['api://v1/users', 'api://v1/', 'api://v1/users/1']],
  ['data://{list*}', ['data://a,b,c', 'data://a', 'data://a/b']],
  ['static://fixed', ['static://fixed', 'static://fixed/', 'static://fixe']],
];

describe('URI templates', () => {
  it('match the URIs the SDK matches, and only those', () => {
    for (const [template, uris] of CASES) {
      const ours = compileTemplate(template);
      assert.ok(ours, template);
      const sdk = new UriTemplate(template);
      for (const uri of uris) assert.equal(ours(uri), sdk.match(uri) !== null, `${template} vs ${uri}`);
    }
  });

  it('refuse templates they cannot read: unclosed braces, empty expressions, too many expressions, too long', () => {
    assert.equal(templateParts('hr://{employee'), undefined);
    assert.equal(templateParts('hr://{}'), undefined);
    assert.equal(templateParts('hr://{a,}'), undefined);
    assert.equal(templateParts(Array.from({ length: 17 }, (_, i) => `{v${i}}`).join('/')), undefined);
    assert.equal(templateParts(`x://${'a'.repeat(1_100)}`), undefined);
  });

  it('a template with several unbounded expressions still answers for a long URI that almost matches', () => {
    const matches = compileTemplate('x://{+a}-{+b}-{+c}-{+d}/end')!;
    const uri = `x://${'-'.repeat(2_000)}`;
    assert.equal(matches(uri), false);
    assert.equal(matches(`x://a-b-c-d/end`), true);
  });
});
