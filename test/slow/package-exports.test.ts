import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildAndPack, REPO_DIR, run, runModule, tempDir, USER_ENV, userProject, type Packed } from './packed-package.js';

// The public API as a user meets it: built, packed, unpacked into a project's node_modules, and
// imported by its names (`behalf`, `behalf/backend`, `behalf/stores/redis`, `behalf/stores/postgres`),
// from JavaScript and from TypeScript. About 30 s: a full build and a pack.

/** The names `behalf` exports: the public API is this list, changed on purpose only. */
const MAIN_EXPORTS = ['BehalfError', 'ConfigError', 'DEFAULTS', 'ERROR_CODES', 'REASONS', 'isBehalfError', 'loadConfigFile', 'parseConfigText', 'startGateway', 'validateConfig'];

let work: string;
let project: string;
let packed: Packed;
let pkg: Record<string, unknown>;

before(async () => {
  work = await tempDir('behalf-pack-');
  packed = await buildAndPack(work);
  project = join(work, 'project');
  await run('mkdir', [project], work);
  pkg = await userProject(project, packed.tarball, ['@types/node']);
});
after(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

/** Runs `code` as an ES module in the user's project and parses the one JSON line it prints. */
async function inProject(code: string, cwd = project): Promise<Record<string, unknown>> {
  const result = await runModule(cwd, code);
  assert.equal(result.code, 0, `node exited ${result.code}:\n${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

describe('the packed package', () => {
  it('holds every file its exports and bin point at, and no sources or tests', () => {
    const targets: string[] = [];
    for (const entry of Object.values(pkg['exports'] as Record<string, string | Record<string, string>>)) {
      if (typeof entry === 'string') targets.push(entry);
      // `behalf-source` points into src/ for this repo's own tests; it is not shipped.
      else for (const [condition, target] of Object.entries(entry)) if (condition !== 'behalf-source') targets.push(target);
    }
    targets.push(...Object.values(pkg['bin'] as Record<string, string>));
    for (const target of targets) assert.ok(packed.files.includes(target.replace(/^\.\//, '')), `${target} is not in the tarball`);
    assert.deepEqual(packed.files.filter((f) => /^(src|test|bench|scripts)\//.test(f)), []);
  });

  it('`behalf` exports exactly the public API, and it works', async () => {
    const out = await inProject(`
      const m = await import('behalf');
      const invalid = m.validateConfig({ server: {} });
      const err = new m.BehalfError('config-invalid', 'x');
      console.log(JSON.stringify({
        names: Object.keys(m).sort(),
        startGateway: typeof m.startGateway,
        loadConfigFile: typeof m.loadConfigFile,
        reason: m.REASONS['token-missing'],
        invalidPaths: invalid.ok ? [] : invalid.problems.map((p) => p.path),
        isFault: m.isBehalfError(err, 'config-invalid') && err instanceof Error,
        codes: m.ERROR_CODES.includes('config-invalid'),
        port: m.DEFAULTS.listenPort,
      }));`);
    assert.deepEqual(out['names'], MAIN_EXPORTS);
    assert.equal(out['startGateway'], 'function');
    assert.equal(out['loadConfigFile'], 'function');
    assert.equal(out['reason'], 'no bearer token was sent');
    assert.ok((out['invalidPaths'] as string[]).includes('server.publicUrl'), `problems: ${String(out['invalidPaths'])}`);
    assert.deepEqual([out['isFault'], out['codes'], out['port']], [true, true, 8080]);
  });

  it('`behalf/backend`, `behalf/stores/redis` and `behalf/stores/postgres` export what a user needs', async () => {
    const out = await inProject(`
      const backend = await import('behalf/backend');
      const redis = await import('behalf/stores/redis');
      const postgres = await import('behalf/stores/postgres');
      const cache = backend.createMemoryReplayCache();
      const exp = Math.floor(Date.now() / 1000) + 60;
      const store = redis.createRedisLimitStore('redis://127.0.0.1:6379/0', { keyPrefix: 'behalf-pack-test:' });
      const connected = await store.waitConnected(2000);
      await store.ping();
      await store.close();
      console.log(JSON.stringify({
        createVerifier: typeof backend.createVerifier,
        verifyRequest: typeof backend.verifyRequest,
        replay: [await cache.seen('j1', exp), await cache.seen('j1', exp)],
        digest: backend.bodyDigest('{}'),
        redis: ['createRedisLimitStore', 'createRedisRevocationStore', 'createRedisReplayCache'].map((n) => typeof redis[n]),
        connected,
        postgres: postgres.parsePostgresUrl('postgres://behalf@127.0.0.1:5432/behalf?schema=audit_x').schema,
        openPostgresAuditStore: typeof postgres.openPostgresAuditStore,
      }));`);
    assert.equal(out['createVerifier'], 'function');
    assert.equal(out['verifyRequest'], 'function');
    assert.deepEqual(out['replay'], [false, true], 'the replay cache refuses an id seen before');
    assert.equal(out['digest'], `sha256:${createHash('sha256').update('{}').digest('base64url')}`);
    assert.deepEqual(out['redis'], ['function', 'function', 'function']);
    assert.equal(out['connected'], true, 'the Redis limit store from the package reached Redis');
    assert.equal(out['postgres'], 'audit_x');
    assert.equal(out['openPostgresAuditStore'], 'function');
  });

  it('a gateway started from `behalf` forwards a verified request to a backend that checks it with `behalf/backend`', async () => {
    await copyFile(join(REPO_DIR, 'test/slow/fixtures/packed-user.mjs'), join(project, 'packed-user.mjs'));
    const result = await run(process.execPath, ['packed-user.mjs'], project, USER_ENV);
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout) as { idp: string; allowed: unknown; refused: unknown; backendSaw: unknown };
    assert.deepEqual(out.allowed, { status: 200, body: { hello: 'alice' } });
    assert.deepEqual(out.refused, { status: 401, error: 'token-missing', known: true });
    assert.deepEqual(out.backendSaw, [{ user: 'alice', issuer: out.idp }], 'the backend verified exactly one request, for alice');
  });

  it('its internals are not importable: only the exported entry points are', async () => {
    const result = await runModule(project, "await import('behalf/dist/gateway.js')");
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  it('its types resolve in a TypeScript project (NodeNext), and are real types, not `any`', async () => {
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] },
        files: ['use-types.ts'],
      }),
    );
    await writeFile(
      join(project, 'use-types.ts'),
      `import { loadConfigFile, REASONS, startGateway, type Config, type Gateway, type GatewayOptions, type LimitStore, type Reason, type ReadyStatus } from 'behalf';
import { createVerifier, type VerifiedCaller } from 'behalf/backend';
import { createRedisLimitStore, createRedisRevocationStore, type RedisLimitStore } from 'behalf/stores/redis';
import { openPostgresAuditStore } from 'behalf/stores/postgres';
export async function main(): Promise<void> {
  const options: GatewayOptions = { port: 0 };
  const gateway: Gateway = await startGateway(await loadConfigFile('behalf.yaml', process.env), options);
  const status: ReadyStatus = await gateway.ready();
  const config: Config | undefined = undefined;
  const limits: LimitStore = createRedisLimitStore('redis://127.0.0.1:6379/0') satisfies RedisLimitStore;
  const reason: Reason = 'token-missing';
  // @ts-expect-error not a reason code: fails to compile only if the types are real
  const wrong: Reason = 'no-such-reason';
  const caller: Promise<VerifiedCaller> = createVerifier({ issuer: 'i', audience: 'a' }).verify({ headers: {} });
  void [status, config, limits, reason, wrong, caller, REASONS, createRedisRevocationStore, openPostgresAuditStore];
}
`,
    );
    const tsc = await run(process.execPath, [join(REPO_DIR, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], project, USER_ENV);
    assert.equal(tsc.code, 0, `tsc:\n${tsc.stdout}${tsc.stderr}`);
  });

  it('the repo imports itself by name after a build (self-reference through package.json exports)', async () => {
    const out = await inProject("const m = await import('behalf'); console.log(JSON.stringify({ names: Object.keys(m).sort() }));", REPO_DIR);
    assert.deepEqual(out['names'], MAIN_EXPORTS);
  });
});
