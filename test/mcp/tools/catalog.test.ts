import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBehalfError } from '../../../src/errors.js';
import { buildToolCatalog } from '../../../src/tools/catalog.js';
import type { ToolDefinition, ToolSource } from '../../../src/tools/types.js';

const source = (id: string, kind: 'http' | 'mcp'): ToolSource => ({
  id,
  kind,
  call: async (tool) => ({ content: [{ type: 'text', text: `${id}:${tool}` }] }),
});
const def = (name: string): ToolDefinition => ({ name, inputSchema: { type: 'object' } });

const config = source('config', 'http');
const hr = source('hr', 'mcp');

describe('tool catalog', () => {
  it('finds tools by their exact name only: __proto__, toString, a trailing slash or another case are unknown', () => {
    const catalog = buildToolCatalog([
      { source: config, definitions: [def('get_reviews'), def('add_review')] },
      { source: hr, definitions: [def('hr.search')] },
    ]);
    assert.equal(catalog.get('get_reviews')?.source, config);
    assert.equal(catalog.get('hr.search')?.source, hr);
    for (const name of ['__proto__', 'toString', 'constructor', 'hasOwnProperty', 'get_reviews/', 'Get_Reviews', ' get_reviews', 'search', 'hr.', '']) {
      assert.equal(catalog.get(name), undefined, JSON.stringify(name));
    }
    assert.equal(catalog.get(undefined as unknown as string), undefined);
    assert.deepEqual(
      catalog.list().map((t) => t.definition.name),
      ['get_reviews', 'add_review', 'hr.search'],
    );
  });

  it('a name declared by two sources stops the start, naming both', () => {
    assert.throws(
      () => buildToolCatalog([{ source: config, definitions: [def('hr.search')] }, { source: hr, definitions: [def('hr.search')] }]),
      (err: unknown) => isBehalfError(err, 'config-invalid') && err.message === 'tool "hr.search" is declared by the config ("config") and by upstream "hr"',
    );
    assert.throws(() => buildToolCatalog([{ source: hr, definitions: [def('a'), def('a')] }]), /declared twice by upstream "hr"/);
    assert.throws(() => buildToolCatalog([{ source: hr, definitions: [def('bad name')] }]), /invalid tool name "bad name"/);
    assert.throws(() => buildToolCatalog([{ source: hr, definitions: [] }, { source: hr, definitions: [] }]), /given twice/);
  });

  it('an upstream refresh replaces its tools at once, keeps pins, and leaves everything as it was when it collides', () => {
    const catalog = buildToolCatalog([
      { source: config, definitions: [def('lookup')] },
      { source: hr, definitions: [def('hr.a')] },
    ]);
    let changes = 0;
    const stop = catalog.onChange(() => changes++);
    const v1 = catalog.version;

    catalog.replaceSource('hr', [def('hr.b'), def('hr.c')], new Map([['hr.c', 'blocked' as const]]));
    assert.equal(catalog.get('hr.a'), undefined);
    assert.equal(catalog.get('hr.c')?.pin, 'blocked');
    assert.equal(catalog.get('hr.b')?.pin, undefined);
    assert.deepEqual(catalog.list().map((t) => t.definition.name), ['lookup', 'hr.b', 'hr.c']);
    assert.equal(catalog.version, v1 + 1);
    assert.equal(changes, 1);

    assert.throws(() => catalog.replaceSource('hr', [def('hr.d'), def('lookup')]), /declared by the config \("config"\) and by upstream "hr"/);
    assert.deepEqual(catalog.list().map((t) => t.definition.name), ['lookup', 'hr.b', 'hr.c'], 'unchanged after a refused refresh');
    assert.equal(catalog.get('hr.d'), undefined);
    assert.equal(changes, 1);
    assert.throws(() => catalog.replaceSource('nope', []), /unknown tool source "nope"/);

    stop();
    catalog.replaceSource('hr', []);
    assert.equal(changes, 1, 'unsubscribed');
    assert.deepEqual(catalog.list().map((t) => t.definition.name), ['lookup']);
  });
});
