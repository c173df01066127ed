import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { challengeErrorFor } from '../src/authenticate/challenge.js';
import { ERROR_CODES } from '../src/errors.js';
import { REASONS, type Reason } from '../src/pipeline/reasons.js';

/**
 * docs/errors.md is the operator's reference for every code; this keeps it and the two code
 * lists in sync (as fastify does for its errors): a code added, renamed or removed on one side
 * only fails here, with a message saying which side to fix.
 */
const DOC_PATH = 'docs/errors.md';
const doc = readFileSync(new URL(`../${DOC_PATH}`, import.meta.url), 'utf8');

/** The body of the `## <title>` section, up to the next `## ` heading. */
function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `${DOC_PATH} has no "## ${title}" section`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

/** The cells of each table row in a section, without the header and separator rows. */
function rows(text: string): string[][] {
  const lines = text.split('\n').filter((l) => l.startsWith('|'));
  return lines.slice(2).map((l) => l.slice(1, l.endsWith('|') ? -1 : undefined).split(' | ').map((c) => c.trim()));
}

/** The first cell of every row, which must be exactly one backticked code. */
function codesOfTable(title: string): string[] {
  return rows(section(title)).map((cells) => {
    const m = /^`([^`]+)`$/.exec(cells[0] ?? '');
    assert.ok(m, `${DOC_PATH} "${title}": the first cell of every row must be one \`code\`, got "${cells[0]}"`);
    return m[1]!;
  });
}

function compare(kind: string, title: string, documented: readonly string[], listed: readonly string[], listedIn: string): void {
  const dupes = documented.filter((c, i) => documented.indexOf(c) !== i);
  assert.deepEqual(dupes, [], `${DOC_PATH} "${title}" lists ${kind}(s) twice: ${dupes.join(', ')}`);
  const undocumented = listed.filter((c) => !documented.includes(c));
  assert.deepEqual(undocumented, [], `${kind}(s) in ${listedIn} missing from the "${title}" table of ${DOC_PATH}: ${undocumented.join(', ')} (add a row for each)`);
  const unknown = documented.filter((c) => !listed.includes(c));
  assert.deepEqual(unknown, [], `${DOC_PATH} "${title}" documents ${kind}(s) that ${listedIn} does not have: ${unknown.join(', ')}`);
}

describe('docs/errors.md matches the code lists', () => {
  it('every reason code (REASONS) has exactly one row in "Reason codes", and nothing else does', () => {
    compare('reason code', 'Reason codes', codesOfTable('Reason codes'), Object.keys(REASONS), 'REASONS (src/pipeline/reasons.ts)');
  });

  it('every fault code (ERROR_CODES) has exactly one row in "Fault codes", and nothing else does', () => {
    compare('fault code', 'Fault codes', codesOfTable('Fault codes'), ERROR_CODES, 'ERROR_CODES (src/errors.ts)');
  });

  it('every row says something: no empty cell', () => {
    for (const title of ['Reason codes', 'Fault codes']) {
      for (const cells of rows(section(title))) {
        assert.ok(cells.length >= 3 && cells.every((c) => c !== ''), `${DOC_PATH} "${title}": incomplete row for ${cells[0]}`);
      }
    }
  });

  it('the WWW-Authenticate table gives each reason the challenge error the gateway sends', () => {
    const table = new Map<string, string[]>();
    for (const [error, reasons] of rows(section('`WWW-Authenticate`'))) {
      const codes = [...(reasons ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      table.set(error === 'none' ? 'none' : error!.replaceAll('`', ''), codes);
    }
    const all = Object.keys(REASONS) as Reason[];
    const expected = (error: string) => all.filter((r) => challengeErrorFor(r) === error);
    assert.deepEqual(table.get('invalid_request')?.sort(), expected('invalid_request').sort());
    assert.deepEqual(table.get('invalid_token')?.sort(), expected('invalid_token').sort());
    assert.deepEqual(table.get('insufficient_scope'), ['insufficient-scope']);
    for (const r of table.get('none') ?? []) {
      assert.ok(Object.hasOwn(REASONS, r) && challengeErrorFor(r as Reason) === undefined, `${r} is documented without an error code but the gateway sends one`);
    }
    assert.deepEqual([...table.keys()].sort(), ['insufficient_scope', 'invalid_request', 'invalid_token', 'none']);
  });

  it('the documented denial body has the shape { error, message, requestId } and a real reason code', () => {
    const example = /\{ "error": "([a-z-]+)", "message": "[^"]+", "requestId": "[^"]+" \}/.exec(section('What the client sees'));
    assert.ok(example, 'the example denial body is missing or changed shape');
    assert.ok(Object.hasOwn(REASONS, example[1]!), `the example uses an unknown reason ${example[1]}`);
  });
});
