/**
 * `npm run demo`: the three-party problem and behalf's answer, side by side.
 * Starts the demo on free loopback ports, runs each scenario both ways, then shows the audit
 * trail and verifies it with the real CLI.
 */
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import { pino } from 'pino';
import { DEMO_DIR, launchDemo, SHARED_API_KEY, type Demo } from './launch.js';

interface Outcome {
  status: number;
  text: string;
}

async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { raw: text.slice(0, 80) };
  }
  return { status: res.status, json };
}

function describe(r: { status: number; json: Record<string, unknown> }): Outcome {
  const reviews = r.json['reviews'];
  if (Array.isArray(reviews)) {
    const who = [...new Set(reviews.map((x) => (x as { employee: string }).employee))].join(', ');
    return { status: r.status, text: `${r.status} ${reviews.length} review(s): ${who || 'none'}` };
  }
  if (r.json['review'] !== undefined) return { status: r.status, text: `${r.status} review added` };
  return { status: r.status, text: `${r.status} ${String(r.json['error'] ?? '')}` };
}

export async function walkthrough(demo: Demo, print: (line: string) => void): Promise<void> {
  const gw = `${demo.gatewayUrl}/api/hr`;
  const hr = `${demo.hr.url}/v1`;
  const shared = { authorization: `Bearer ${SHARED_API_KEY}` };
  const token = async (user: string) => ({ authorization: `Bearer ${await demo.idp.mint(user)}` });

  const now = Math.floor(Date.now() / 1000);
  const expired = await demo.idp.mint('alice', { claims: { iat: now - 7200, nbf: now - 7200, exp: now - 3600 } });
  const attacker = await generateKeyPair('RS256');
  const forged = await new SignJWT({ scope: 'reviews:read reviews:write', client_id: 'evil' })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'attacker' })
    .setIssuer(demo.idp.issuer)
    .setAudience(demo.gatewayUrl)
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(attacker.privateKey);

  const rows: [string, Outcome | string, Outcome][] = [];
  const row = async (label: string, before: Promise<Outcome> | string, after: Promise<Outcome>) => rows.push([label, await before, await after]);

  await row('Alice: "show my team\'s reviews"', call(`${hr}/reviews`, { headers: shared }).then(describe), call(`${gw}/reviews`, { headers: await token('alice') }).then(describe));
  await row('Mallory lists reviews', call(`${hr}/reviews`, { headers: shared }).then(describe), call(`${gw}/reviews`, { headers: await token('mallory') }).then(describe));
  await row("Mallory reads Bob's reviews", call(`${hr}/reviews/bob`, { headers: shared }).then(describe), call(`${gw}/reviews/bob`, { headers: await token('mallory') }).then(describe));
  const spoof = await call(`${gw}/reviews`, { headers: { ...(await token('mallory')), 'x-user-id': 'alice', 'x-forwarded-user': 'alice' } });
  rows.push(['Mallory sends X-User-Id: alice', 'the key has no user at all', { status: spoof.status, text: `${describe(spoof).text}; backend saw ${demo.hr.lastCaller()?.user ?? '?'}` }]);
  await row("Alice reads Bob's reviews", call(`${hr}/reviews/bob`, { headers: shared }).then(describe), call(`${gw}/reviews/bob`, { headers: await token('alice') }).then(describe));
  await row('Expired token', 'no token to check', call(`${gw}/reviews`, { headers: { authorization: `Bearer ${expired}` } }).then(describe));
  await row('Forged token (attacker key)', 'no token to check', call(`${gw}/reviews`, { headers: { authorization: `Bearer ${forged}` } }).then(describe));
  const review = { period: '2026-H2', rating: 'exceeds', summary: 'Led the incident review.' };
  await row('Alice adds a review for Bob', call(`${hr}/reviews/bob`, { method: 'POST', headers: shared, body: review }).then(describe), call(`${gw}/reviews/bob`, { method: 'POST', headers: await token('alice'), body: review }).then(describe));
  await row('Bob adds a review for Carol', call(`${hr}/reviews/carol`, { method: 'POST', headers: shared, body: review }).then(describe), call(`${gw}/reviews/carol`, { method: 'POST', headers: await token('bob'), body: review }).then(describe));

  const w0 = Math.max(...rows.map((r) => r[0].length));
  const text = (o: Outcome | string) => (typeof o === 'string' ? `(${o})` : o.text);
  const w1 = Math.max(...rows.map((r) => text(r[1]).length), 'shared API key, straight to the backend'.length);
  print('');
  print(`${'scenario'.padEnd(w0)}  ${'shared API key, straight to the backend'.padEnd(w1)}  through behalf`);
  print(`${'-'.repeat(w0)}  ${'-'.repeat(w1)}  ${'-'.repeat(40)}`);
  for (const [label, before, after] of rows) print(`${label.padEnd(w0)}  ${text(before).padEnd(w1)}  ${text(after)}`);
}

async function runCli(args: string[]): Promise<string> {
  const main = join(DEMO_DIR, '..', '..', 'src', 'cli', 'main.ts');
  try {
    return execFileSync(process.execPath, ['--conditions=behalf-source', '--import', 'tsx', main, ...args], { encoding: 'utf8' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const stateDir = '.behalf/demo-walkthrough';
  await rm(stateDir, { recursive: true, force: true });
  const demo = await launchDemo({ stateDir, logger: pino({ level: 'warn' }) });
  try {
    console.log('behalf demo: "summarise performance reviews for my team", asked through an LLM.');
    console.log('Alice manages Bob and Carol (Platform); Mallory is in Finance.');
    await walkthrough(demo, (line) => console.log(line));
  } finally {
    await demo.close();
  }
  const store = join(stateDir, 'audit');
  console.log('\nThe audit trail (behalf audit tail -n 9 --store ' + store + '):');
  console.log((await runCli(['audit', 'tail', '-n', '9', '--store', store])).trimEnd());
  console.log('\nbehalf audit verify:');
  console.log((await runCli(['audit', 'verify', '--store', store])).trimEnd());
}
