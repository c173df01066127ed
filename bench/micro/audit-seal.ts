// Sealing one audit record into the hash chain (canonical JSON + SHA-256 + the stored line), as
// the embedded and PostgreSQL stores do once per record, for a typical allowed route request and
// for a record with every optional field.
//   node --import tsx bench/micro/audit-seal.ts [--root <worktree>]   (default: this tree)
import { measure, rootArg } from './measure.js';

const root = rootArg();
const chain = (await import(`${root}/src/audit/chain.ts`)) as typeof import('../../src/audit/chain.js');
const canonical = (await import(`${root}/src/lib/canonical-json.ts`)) as typeof import('../../src/lib/canonical-json.js');
console.log(`audit seal, code from ${root}`);

// The shape auditRecordOf builds: every field present, the absent ones as undefined.
const route = {
  time: '2026-12-06T08:40:01.123Z',
  requestId: 'q3L0x5m2R1sVb8nK7yZt4w',
  door: 'http',
  route: 'employees',
  tool: undefined,
  method: 'GET',
  path: '/employees/e123?fields=',
  user: 'alice@example.com',
  tenant: 'acme',
  client: 'assistant-app',
  issuer: 'http://127.0.0.1:9000',
  decision: 'allow',
  reason: 'allowed',
  ruleId: 'managers-read-reports',
  status: 200,
  upstreamStatus: 200,
  latencyMs: 1.234,
  bytesIn: 0,
  bytesOut: 57,
  bodyDigest: undefined,
  detail: undefined,
  rpcMethod: undefined,
  upstream: undefined,
  resource: undefined,
  prompt: undefined,
  argsDigest: undefined,
  resultError: undefined,
  phase: undefined,
} as const;
const full = {
  ...route,
  tool: 'hr.lookup',
  bodyDigest: 'sha256:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU',
  detail: 'relayed to the client: sampling/createMessage',
  rpcMethod: 'tools/call',
  upstream: 'hr',
  resource: 'file:///x',
  prompt: 'p',
  argsDigest: 'sha256:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU',
  resultError: false,
  phase: 'outcome',
} as const;
const prev = 'a'.repeat(64);

// As in a running gateway, the values differ from record to record: ids, times, latencies.
const routes = Array.from({ length: 1024 }, (_, i) => ({
  ...route,
  time: new Date(Date.UTC(2026, 11, 6, 8, 40, 0, i * 3)).toISOString(),
  requestId: Buffer.from(`${i}`.padStart(16, 'x')).toString('base64url'),
  path: `/employees/e${i}?fields=`,
  latencyMs: Math.round((0.3 + i * 0.0137) * 1000) / 1000,
  bytesOut: 50 + (i % 40),
}));
let n = 0;
measure('sealRecord, route record (12 absent fields)', () => chain.sealRecord(routes[n++ & 1023]!, 41, prev));
measure('sealRecord, every field present', () => chain.sealRecord(full, 41, prev));
measure('reference: JSON.stringify of the route record', () => JSON.stringify(routes[n++ & 1023]));
measure('reference: canonicalJson of the route record', () => canonical.canonicalJson({ ...route, seq: 42, prev }));

// The parts, to see where the rest goes (the serializer exists from issue 13 §2 on).
const digest = (await import(`${root}/src/lib/digest.ts`)) as typeof import('../../src/lib/digest.js');
const texts = routes.map((r) => chain.sealRecord(r, 41, prev).line);
measure('part: sha256Hex of the route record text', () => digest.sha256Hex(texts[n++ & 1023]!));
const recordText = (await import(`${root}/src/audit/record-text.ts`).catch(() => undefined)) as typeof import('../../src/audit/record-text.js') | undefined;
if (recordText !== undefined) measure('part: recordMembersText, route record', () => recordText.recordMembersText(routes[n++ & 1023]!, 42, prev));
