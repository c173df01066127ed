import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanup, runCli, tempDir, writeTemp } from './helpers.js';
import { CONFIG } from './serve-configs.js';

// `behalf serve` as real child processes: test/slow/serve.test.ts.

after(cleanup);

describe('behalf serve (in-process, failing before it listens)', () => {
  it('a corrupt signing key file: "signing-key-invalid: ...; not starting", exit 1', async () => {
    const state = await tempDir();
    await writeFile(join(state, 'signing-keys.json'), '{"keys": "not a list"}');
    const config = await writeTemp('behalf.yaml', CONFIG.replace('level: info', 'level: silent'));
    const r = await runCli(['serve', '--config', config], { PORT: '0', STATE: state });
    assert.equal(r.code, 1);
    assert.match(r.err, /^signing-key-invalid: signing key file .*signing-keys\.json: .*; not starting$/);
    assert.equal(await readFile(join(state, 'signing-keys.json'), 'utf8'), '{"keys": "not a list"}', 'the bad file is left for the operator to inspect');
  });
});
