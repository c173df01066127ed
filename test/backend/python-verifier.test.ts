import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// The batched-assertion specification is complete enough to port: a verifier written from
// docs/batched-assertions.md in Python (standard library and the openssl command) agrees with
// behalf/backend on every published vector (batched-vectors.test.ts checks behalf/backend).

const script = fileURLToPath(new URL('../../examples/python-verifier/behalf_assertion.py', import.meta.url));
const vectors = fileURLToPath(new URL('../vectors/batched-assertion/vectors.json', import.meta.url));
const have = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;

describe('a verifier in another language', () => {
  const missing = !have('python3', ['--version']) ? 'python3 is not installed' : !have('openssl', ['version']) ? 'the openssl command is not installed' : undefined;
  it('the Python reference verifier accepts and refuses exactly what the vectors say', { skip: missing }, () => {
    const run = spawnSync('python3', [script, vectors], { encoding: 'utf8', timeout: 60_000 });
    const lines = run.stdout.trim().split('\n');
    assert.ok(lines.length >= 30, `one line per case: ${run.stdout}${run.stderr}`);
    assert.deepEqual(lines.filter((l) => !l.startsWith('ok ')), [], run.stderr);
    assert.equal(run.status, 0);
  });
});
