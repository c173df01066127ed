import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { canonicalJson } from '../../../src/lib/canonical-json.js';
import { createVerifier } from '../../../src/backend/index.js';
import { createUpstreams, type Upstreams } from '../../../src/mcp-upstream/upstreams.js';
import type { SigningKeys } from '../../../src/forward/identity/signing-keys.js';
import { callContext, GATEWAY, gatewayKeys, quiet, removeTempDirs, tempDir, upstreamConfigs, waitFor } from './helpers.js';

const SERVER = fileURLToPath(new URL('./fixtures/stdio-server.mjs', import.meta.url));

let keys: SigningKeys;
let set: Upstreams;

before(async () => {
  const dir = await tempDir();
  const gw = await gatewayKeys(dir);
  keys = gw.keys;
  // A secret in the gateway's own environment must not reach the child.
  process.env.BEHALF_TEST_GATEWAY_SECRET = 'must-not-leak';
  const [cfg] = upstreamConfigs([
    { id: 'local', transport: 'stdio', command: process.execPath, args: [SERVER], env: { FOO: 'bar' }, pinning: 'off', timeoutMs: 5_000, circuit: { openMs: 20, maxOpenMs: 100 } },
  ]);
  set = createUpstreams([cfg!], { signer: gw.signer, logger: quiet });
  await waitFor(() => set.tools().length === 3, 'the stdio tools');
});

after(async () => {
  delete process.env.BEHALF_TEST_GATEWAY_SECRET;
  await set.close();
  await removeTempDirs();
});

const call = (tool: string, args: Record<string, unknown> = {}) => set.sources()[0]!.call(tool, args, callContext(args));

describe('an upstream MCP server over stdio', () => {
  it('lists its tools under its id as namespace', () => {
    assert.deepEqual(set.tools().map((t) => t.definition.name), ['local.env', 'local.whoami', 'local.exit']);
  });

  it('starts the process with only PATH and the configured env, not the gateway environment', async () => {
    const result = await call('local.env');
    const names = result.structuredContent?.names as string[];
    assert.equal(result.structuredContent?.foo, 'bar');
    assert.ok(!names.includes('BEHALF_TEST_GATEWAY_SECRET'));
    assert.ok(!names.includes('HOME') && !names.includes('USER'), `unexpected inherited variables: ${names.join(', ')}`);
    assert.deepEqual(names.filter((n) => n !== 'PATH'), ['FOO']);
  });

  it('sends the identity in _meta, verifiable with audience stdio:<id>', async () => {
    const args = { employee: 'bob' };
    const result = await call('local.whoami', args);
    const assertion = result.structuredContent?.assertion;
    assert.equal(typeof assertion, 'string');
    const verifier = createVerifier({ issuer: GATEWAY, audience: 'stdio:local', keys: keys.publicJwks() });
    const caller = await verifier.verify({ method: 'POST', url: '/', headers: { 'x-behalf-assertion': assertion as string } }, canonicalJson(result.structuredContent?.args));
    assert.equal(caller.user, 'alice');
    assert.equal(caller.tool, 'whoami');
  });

  it('a process that exits is started again with the same tools', async () => {
    const before = (await call('local.env')).structuredContent?.pid;
    await call('local.exit');
    await waitFor(() => set.status()[0]!.state !== 'up', 'the process to end');
    await waitFor(() => set.status()[0]!.state === 'up', 'the process to be started again');
    const after = (await call('local.env')).structuredContent?.pid;
    assert.equal(typeof after, 'number');
    assert.notEqual(after, before);
    assert.equal(set.tools().length, 3);
  });

  it('close() ends the process', async () => {
    const pid = (await call('local.env')).structuredContent?.pid as number;
    await set.close();
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    const result = await call('local.env');
    assert.equal(result.isError, true);
  });
});
