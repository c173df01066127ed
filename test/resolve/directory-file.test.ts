import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isBehalfError } from '../../src/errors.js';
import { createDirectory, type Directory, type DirectoryLogger } from '../../src/resolve/directory.js';
import { DEMO_DIRECTORY_YAML } from '../authorize/demo.js';

/** Collects what the directory reports, as an operator would read it in the logs. */
function recordingLogger() {
  const warnings: { obj: object; msg: string }[] = [];
  const logger: DirectoryLogger = { warn: (obj, msg) => void warnings.push({ obj, msg }), info: () => {} };
  return { logger, warnings };
}

/** Waits (polling every 10 ms, at most `ms`) until `check` is true. Events from fs.watch are asynchronous. */
async function eventually(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('directory from a file', () => {
  let dir: string;
  const open: Directory[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'behalf-directory-'));
  });
  after(async () => {
    await Promise.all(open.map((d) => d.close()));
    await rm(dir, { recursive: true, force: true });
  });
  const make = (file: string, extra: Partial<Parameters<typeof createDirectory>[1]> = {}) => {
    const d = createDirectory({ file, refreshMs: 30_000, headers: {} }, { baseDir: dir, debounceMs: 20, pollMs: 100, now: () => 1_700_000_000_000, ...extra });
    open.push(d);
    return d;
  };

  it('loads a relative path from the config folder', async () => {
    await writeFile(join(dir, 'people.yaml'), DEMO_DIRECTORY_YAML);
    const d = make('people.yaml');
    await d.start();
    assert.deepEqual(d.snapshot().get('alice')?.reports, ['bob', 'carol']);
    assert.equal(d.snapshot().loadedAt, 1_700_000_000_000);
    assert.equal(d.snapshot().version, 1);
  });

  it('picks up an edit in place and a replace-by-rename, as editors and deploy tools do', async () => {
    const file = join(dir, 'live.yaml');
    await writeFile(file, DEMO_DIRECTORY_YAML);
    const d = make(file);
    await d.start();
    assert.deepEqual(d.snapshot().get('alice')?.reports, ['bob', 'carol']);

    await writeFile(file, `${DEMO_DIRECTORY_YAML}  - { id: erin, manager: alice }\n`);
    await eventually(() => d.snapshot().get('erin') !== undefined);
    assert.deepEqual(d.snapshot().get('alice')?.reports, ['bob', 'carol', 'erin']);
    assert.equal(d.snapshot().version, 2);

    const tmp = join(dir, '.live.yaml.tmp');
    await writeFile(tmp, DEMO_DIRECTORY_YAML.replace('{ id: carol, name: Carol Chen, manager: alice', '{ id: carol, name: Carol Chen, manager: mallory'));
    await rename(tmp, file);
    await eventually(() => d.snapshot().get('carol')?.manager === 'mallory');
    assert.deepEqual(d.snapshot().get('alice')?.reports, ['bob']);
    assert.deepEqual(d.snapshot().get('mallory')?.reports, ['carol']);
  });

  it('keeps the previous snapshot when a reload is invalid, and reports the problem with its path', async () => {
    const file = join(dir, 'guarded.yaml');
    await writeFile(file, DEMO_DIRECTORY_YAML);
    const { logger, warnings } = recordingLogger();
    const d = make(file, { logger });
    await d.start();
    const good = d.snapshot();

    await writeFile(file, 'users:\n  - { id: alice }\n  - { id: alice }\n');
    await eventually(() => warnings.length > 0);
    assert.equal(d.snapshot(), good, 'the good snapshot stays in place');
    assert.match(warnings[0]!.msg, /refused; keeping the previous version/);
    assert.match(JSON.stringify(warnings[0]!.obj), /users\[1\]\.id: duplicate id \\"alice\\"/);

    await writeFile(file, 'users:\n  - { id: alice }\n  - { id: zoe, manager: alice }\n');
    await eventually(() => d.snapshot().get('zoe') !== undefined);
    assert.deepEqual(d.snapshot().get('alice')?.reports, ['zoe']);
  });

  it('falls back to polling the file when watching is off', async () => {
    const file = join(dir, 'polled.json');
    await writeFile(file, JSON.stringify({ users: [{ id: 'alice' }] }));
    const d = make(file, { watch: false });
    await d.start();
    await writeFile(file, JSON.stringify({ users: [{ id: 'alice' }, { id: 'bob', manager: 'alice' }] }));
    await eventually(() => d.snapshot().get('bob') !== undefined);
    assert.deepEqual(d.snapshot().get('alice')?.team, ['bob']);
  });

  it('does not reload for a touch that leaves the content the same', async () => {
    const file = join(dir, 'same.yaml');
    await writeFile(file, DEMO_DIRECTORY_YAML);
    const d = make(file);
    await d.start();
    await writeFile(file, DEMO_DIRECTORY_YAML);
    assert.equal(await d.reload(), false);
    assert.equal(d.snapshot().version, 1);
  });

  it('fails start() with directory-load-failed naming the file and the problem', async () => {
    await writeFile(join(dir, 'bad.yaml'), 'users:\n  - { id: bob, manager: alice }\n  - { id: bob }\n');
    await assert.rejects(make('bad.yaml').start(), (err) => {
      assert.ok(isBehalfError(err, 'directory-load-failed'));
      assert.match(err.message, /bad\.yaml: users\[1\]\.id: duplicate id "bob"/);
      return true;
    });
    await assert.rejects(make('missing.yaml').start(), (err) => isBehalfError(err, 'directory-load-failed') && /missing\.yaml: cannot read the file: ENOENT/.test(err.message));
  });

  it('without configuration is an empty directory that never fails', async () => {
    const d = createDirectory(undefined, { baseDir: dir });
    await d.start();
    assert.equal(d.snapshot().get('alice'), undefined);
    assert.equal(d.snapshot().version, 0);
    await d.close();
  });
});
