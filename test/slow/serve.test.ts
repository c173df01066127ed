import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../../examples/hr-demo/launch.js';
import { cleanup, runCli, spawnCli, tempDir, writeTemp } from '../cli/helpers.js';
import { CONFIG, INVALID } from '../cli/serve-configs.js';

after(cleanup);

async function waitForHealth(url: string, exited: () => boolean, timeoutMs: number): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fetch(`${url}/healthz`);
    } catch {
      if (exited() || Date.now() > deadline) throw new Error(`no answer on ${url}/healthz`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

// Each child process pays for loading TypeScript (~1 s): run them side by side.
describe('behalf serve (real processes)', { concurrency: true }, () => {
  it('starts with a valid config, answers /healthz and requests, and stops on SIGTERM with exit 0', async () => {
    const state = await tempDir();
    const config = await writeTemp('behalf.yaml', CONFIG);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = spawnCli(['serve', '--config', config], { PORT: String(port), STATE: state });
    let ended = false;
    const exit = proc.exited(15_000).finally(() => (ended = true));
    try {
      const health = await waitForHealth(url, () => ended, 10_000);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });

      const denied = await fetch(`${url}/api/hr/reviews/bob`);
      assert.equal(denied.status, 401);
      assert.equal(denied.headers.get('www-authenticate'), `Bearer resource_metadata="${url}/.well-known/oauth-protected-resource/api/hr"`);
      const body = (await denied.json()) as { error: string; requestId: string };
      assert.equal(body.error, 'token-missing');
      assert.equal(body.requestId, denied.headers.get('x-request-id'));
    } finally {
      proc.child.kill('SIGTERM');
    }
    assert.equal(await exit, 0, proc.stderr());
    assert.match(proc.stdout(), /"msg":"behalf listening"/);
    // What it left behind: the signing key it generated (owner-only) and an intact audit trail
    // holding the denied request, flushed before exit.
    assert.equal((await stat(join(state, 'signing-keys.json'))).mode & 0o077, 0);
    const verify = await runCli(['audit', 'verify', '--store', join(state, 'audit'), '--key-file', join(state, 'signing-keys.json')]);
    assert.equal(verify.code, 0, verify.err);
    const [summary, checkpoints] = verify.out.split('\n');
    assert.equal(summary, 'audit trail OK: 1 records');
    // Signed at start and at shutdown, both with the key it generated.
    assert.match(checkpoints ?? '', /^checkpoints: (\d+) stored, \1 verified$/);
  });

  it('refuses to start on an invalid config with the same messages as check --require-env, and exits 1 by itself', async () => {
    const config = await writeTemp('behalf.yaml', INVALID);
    const proc = spawnCli(['serve', '--config', config]);
    assert.equal(await proc.exited(10_000), 1);
    const checked = await runCli(['check', '--require-env', config]);
    const problems = checked.err.split('\n').slice(0, -1);
    assert.ok(problems.length >= 2, checked.err);
    assert.ok(problems.includes('routes[1].upstream: environment variable PAY_URL is not set'), checked.err);
    assert.deepEqual(proc.stderr().trimEnd().split('\n'), [...problems, `${config}: ${problems.length} problem(s); not starting`]);
    assert.equal(proc.stdout(), '');
  });
});
