import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodyDigest } from '../../src/lib/digest.js';
import { digestAndDecode, LARGE_BODY_BYTES } from '../../src/lib/large-body.js';

describe('digestAndDecode', () => {
  it('a small body: its digest and text in the same turn (nothing else runs in between)', async () => {
    const body = Buffer.from('{"who":"alice"}');
    let other = false;
    setImmediate(() => (other = true));
    const r = await digestAndDecode(body, true);
    assert.deepEqual(r, { digest: bodyDigest(body), text: '{"who":"alice"}' });
    assert.equal(other, false);
  });

  it('a large body: the same digest and text, with turns of the event loop between the steps', async () => {
    const body = Buffer.from(`{"text":"${'x'.repeat(LARGE_BODY_BYTES)}"}`);
    let turns = 0;
    const tick = () => {
      turns++;
      if (turns < 10) setImmediate(tick);
    };
    setImmediate(tick);
    const r = await digestAndDecode(body, true);
    assert.equal(r.digest, bodyDigest(body));
    assert.equal(r.text, body.toString('utf8'));
    assert.ok(turns >= 2, `other work ran ${turns} time(s) meanwhile`);
    assert.equal((await digestAndDecode(body, false)).text, undefined, 'not decoded when not asked');
  });
});
