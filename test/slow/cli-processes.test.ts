import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { writeTrail } from '../audit/helpers.js';
import { CLI_ENTRY, HR_DEMO_DIR, REPO_DIR, cleanup, runCli, spawnCli, tempDir } from '../cli/helpers.js';

/** The CLI as a real process: `behalf dev-idp`, and output into a pipe its reader closes early. */

after(cleanup);
const run = promisify(execFile);

async function waitFor(read: () => string, pattern: RegExp, ms: number): Promise<RegExpExecArray> {
  const until = Date.now() + ms;
  for (;;) {
    const m = pattern.exec(read());
    if (m !== null) return m;
    if (Date.now() > until) throw new Error(`no ${pattern} within ${ms} ms in:\n${read()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('behalf dev-idp', () => {
  it('serves the users of --users for --audience, keeps its key (0600) across a restart, and stops on SIGTERM with exit 0', async () => {
    const dir = await tempDir();
    const keyFile = join(dir, 'state', 'key.json');
    const args = ['dev-idp', '--users', join(HR_DEMO_DIR, 'users.yaml'), '--audience', 'http://127.0.0.1:8085', '--port', '0', '--key-file', keyFile];
    const kids: string[] = [];
    let token = '';
    for (const round of [1, 2]) {
      const p = spawnCli(args);
      const [, issuer] = await waitFor(p.stdout, /^issuer +(http:\/\/127\.0\.0\.1:\d+) /m, 20_000);
      assert.match(p.stderr(), /DEVELOPMENT ONLY/);
      assert.match(p.stdout(), /^users +dana, alice, bob, carol, mallory$/m);
      const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: { kid: string }[] };
      kids.push(jwks.keys[0]!.kid);
      if (round === 1) {
        const res = await fetch(`${issuer}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'urn:behalf:dev:user', user: 'bob' }) });
        assert.equal(res.status, 200);
        token = ((await res.json()) as { access_token: string }).access_token;
        const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
        assert.equal(claims.sub, 'bob');
        assert.equal(claims.aud, 'http://127.0.0.1:8085');
        assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
      }
      p.child.kill('SIGTERM');
      assert.equal(await p.exited(10_000), 0, p.stderr());
    }
    assert.equal(kids[0], kids[1], 'the same signing key after a restart');
  });

  it('refuses a non-loopback address without --i-know-this-is-insecure, and needs --users and --audience (usage, exit 2)', async () => {
    const users = join(HR_DEMO_DIR, 'users.yaml');
    const open = await runCli(['dev-idp', '--users', users, '--audience', 'http://gw.test', '--host', '0.0.0.0']);
    assert.equal(open.code, 2);
    assert.match(open.err, /not a loopback address.*--i-know-this-is-insecure/);
    assert.equal((await runCli(['dev-idp', '--audience', 'http://gw.test'])).code, 2);
    assert.match((await runCli(['dev-idp', '--users', users])).err, /--audience <url> is required/);
    const bad = await runCli(['dev-idp', '--users', join(REPO_DIR, 'package.json'), '--audience', 'http://gw.test', '--port', '0']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^config-invalid: .*package\.json: expected a list of/);
  });
});

describe('output into a closed pipe', () => {
  it('`behalf audit query --json | head -1` prints one line and ends with exit 0, no stack trace', async () => {
    const dir = await tempDir();
    // Far more than a pipe buffer (64 KiB), so the CLI is still writing when head exits.
    await writeTrail(join(dir, 'audit'), 3_000);
    const cli = `node --conditions=behalf-source --import tsx ${CLI_ENTRY} audit query --store ${join(dir, 'audit')} --json`;
    const errFile = join(dir, 'stderr.txt');
    const { stdout } = await run('bash', ['-c', `set -o pipefail; ${cli} 2>${errFile} | head -1; echo "exit=$?"`], { cwd: REPO_DIR, env: { PATH: process.env.PATH ?? '' } });
    const stderr = await readFile(errFile, 'utf8');
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 2, stdout);
    assert.equal((JSON.parse(lines[0]!) as { seq: number }).seq, 1);
    assert.equal(lines[1], 'exit=0', stderr);
    assert.equal(stderr, '');
  });
});
