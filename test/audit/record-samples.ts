/**
 * Audit records of every kind the chain must serialise the same way forever, from a seeded
 * generator: each optional field absent, present as `undefined` or set; strings with quotes,
 * backslashes, control characters, line separators, accents, CJK, emoji and lone surrogates;
 * numbers from -0 to 1e21 and the non-finite ones; keys in shuffled orders (so the serializer
 * sees more shapes than it keeps plans for), extra and integer-like keys, `seq`/`prev`/`hash`
 * already on the input, and a nested value.
 */

const FIELDS = [
  'time', 'requestId', 'door', 'route', 'tool', 'method', 'path', 'user', 'tenant', 'client', 'issuer', 'decision', 'reason', 'ruleId',
  'status', 'upstreamStatus', 'latencyMs', 'bytesIn', 'bytesOut', 'bodyDigest', 'detail', 'rpcMethod', 'upstream', 'resource', 'prompt',
  'argsDigest', 'resultError', 'phase',
] as const;

const NUMERIC = new Set(['status', 'upstreamStatus', 'latencyMs', 'bytesIn', 'bytesOut']);

const STRINGS = [
  '', 'a', 'alice@example.com', '/api/hr/reviews/bob?q=', 'quote " inside', 'back\\slash', 'new\nline', 'tab\tand\u0000nul', '\u001f\u007f\u0080\u009f',
  'line\u2028sep\u2029', 'café', '日本語のユーザー', 'emoji 😀 pair', 'lone \ud800 high', 'lone \udc00 low', 'reversed \udc00\ud800', '<script>&amp;</script>',
  'x'.repeat(300), 'sha256:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU', '2026-12-06T08:40:01.123Z',
];

const NUMBERS = [0, -0, 1, 200, 503, 1.5, 0.001, 12.345, 1.5e-7, 1e21, 123456789012, -3, 2 ** 53, Number.MAX_VALUE, Number.MIN_VALUE, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible sample. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` records from `seed`; about a third keep the pipeline's key order with every field present. */
export function sampleRecords(count: number, seed = 13): Record<string, unknown>[] {
  const random = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const out: Record<string, unknown>[] = [];
  for (let n = 0; n < count; n++) {
    const pipelineShape = random() < 0.35;
    const entries: [string, unknown][] = [];
    for (const key of FIELDS) {
      const r = random();
      if (!pipelineShape && r < 0.25) continue;
      let value: unknown;
      if (r < 0.45) value = undefined;
      else if (NUMERIC.has(key)) value = pick(NUMBERS);
      else if (key === 'resultError') value = random() < 0.5;
      else value = pick(STRINGS);
      entries.push([key, value]);
    }
    if (!pipelineShape) {
      if (random() < 0.2) entries.push([pick(['zeta', 'Alpha', '10', '2', 'é', '😀key', '']), pick([...STRINGS.slice(0, 5), 7, null, true])]);
      if (random() < 0.1) entries.push(['seq', 99], ['prev', 'forged'], ['hash', 'f'.repeat(64)]);
      if (random() < 0.1) entries.push(['detail', { b: [1, 'x', null], a: { 'd': 'é', c: undefined } }]);
      // Shuffle: a record's key order must not change its text.
      for (let i = entries.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [entries[i], entries[j]] = [entries[j]!, entries[i]!];
      }
    }
    out.push(Object.fromEntries(entries));
  }
  return out;
}
