/**
 * `npm run demo`: the three-party problem and behalf's answer, side by side.
 *
 * When `npm start` is running (its `.behalf/demo/stack.json` names a stack that answers), the
 * walkthrough runs against it, so every request appears in the trail `npm start` told the user to
 * tail. Otherwise it starts a demo of its own on free loopback ports, with its own trail in
 * `.behalf/demo-walkthrough`, and says so first. Either way it runs each scenario both ways, then
 * shows its part of the audit trail and verifies the trail with the real CLI.
 */
import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import { pino } from 'pino';
import { main as cli } from '../../src/cli/program.js';
import { DEV_USER_GRANT } from '../../src/dev-idp/index.js';
import { loadOrCreateDevKey } from '../../src/dev-idp/signing-key.js';
import { launchDemo, SHARED_API_KEY } from './launch.js';
import { DEV_IDP_KEY_FILE, findRunningStack, stackOf, type DemoStack } from './stack.js';

/** The `client_id` of the walkthrough's tokens: its requests show this client in the trail. */
export const WALKTHROUGH_CLIENT = 'demo-walkthrough';

/** One scenario: what the shared API key got straight from the backend, and what behalf did. */
export interface Row {
  readonly label: string;
  /** The shared-key outcome, or why there is none (in parentheses when printed). */
  readonly before: string;
  readonly after: string;
}

interface Reply {
  status: number;
  json: Record<string, unknown>;
}

async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Reply> {
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

function describe(r: Reply): string {
  const reviews = r.json['reviews'];
  if (Array.isArray(reviews)) {
    const who = [...new Set(reviews.map((x) => (x as { employee: string }).employee))].join(', ');
    return `${r.status} ${reviews.length} review(s): ${who || 'none'}`;
  }
  if (r.json['review'] !== undefined) return `${r.status} review added`;
  return `${r.status} ${String(r.json['error'] ?? '')}`;
}

/** An access token from the stack's dev IdP, through its token endpoint as any script would get one. */
async function mint(stack: DemoStack, user: string): Promise<string> {
  const form = new URLSearchParams({ grant_type: DEV_USER_GRANT, user, scope: 'reviews:read reviews:write', client_id: WALKTHROUGH_CLIENT });
  const res = await fetch(`${stack.idpIssuer}/token`, { method: 'POST', body: form });
  const body = (await res.json()) as { access_token?: string; error?: string };
  if (body.access_token === undefined) throw new Error(`the dev IdP at ${stack.idpIssuer} gave no token for ${user}: ${body.error ?? res.status}`);
  return body.access_token;
}

/**
 * A token the stack's dev IdP signed (its key is in the state folder) that expired an hour ago:
 * the IdP's token endpoint only hands out fresh ones.
 */
async function mintExpired(stack: DemoStack, user: string): Promise<string> {
  const key = await loadOrCreateDevKey(join(stack.stateDir, DEV_IDP_KEY_FILE));
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: 'reviews:read reviews:write', client_id: WALKTHROUGH_CLIENT })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: key.kid })
    .setIssuer(stack.idpIssuer)
    .setAudience(stack.gatewayUrl)
    .setSubject(user)
    .setIssuedAt(now - 7200)
    .setNotBefore(now - 7200)
    .setExpirationTime(now - 3600)
    .sign(key.privateKey);
}

/** Runs every scenario against `stack`, prints the table, and returns its rows. */
export async function walkthrough(stack: DemoStack, print: (line: string) => void): Promise<Row[]> {
  const gw = `${stack.gatewayUrl}/api/hr`;
  const hr = `${stack.hrUrl}/v1`;
  const shared = { authorization: `Bearer ${SHARED_API_KEY}` };
  const token = async (user: string) => ({ authorization: `Bearer ${await mint(stack, user)}` });

  const expired = await mintExpired(stack, 'alice');
  const attacker = await generateKeyPair('RS256');
  const forged = await new SignJWT({ scope: 'reviews:read reviews:write', client_id: 'evil' })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'attacker' })
    .setIssuer(stack.idpIssuer)
    .setAudience(stack.gatewayUrl)
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(attacker.privateKey);

  const rows: Row[] = [];
  const row = async (label: string, before: Promise<Reply> | string, after: Promise<Reply>) =>
    rows.push({ label, before: typeof before === 'string' ? `(${before})` : describe(await before), after: describe(await after) });

  await row('Alice: "show my team\'s reviews"', call(`${hr}/reviews`, { headers: shared }), call(`${gw}/reviews`, { headers: await token('alice') }));
  await row('Mallory lists reviews', call(`${hr}/reviews`, { headers: shared }), call(`${gw}/reviews`, { headers: await token('mallory') }));
  await row("Mallory reads Bob's reviews", call(`${hr}/reviews/bob`, { headers: shared }), call(`${gw}/reviews/bob`, { headers: await token('mallory') }));
  // Mallory's integration names Alice in X-User-Id. A backend that believes the header gives her
  // Alice's view; behalf strips the header, and the backend learns the user from the assertion.
  const spoofHeaders = { 'x-user-id': 'alice', 'x-forwarded-user': 'alice' };
  const naive = await call(`${hr}/reviews`, { headers: { ...shared, ...spoofHeaders } });
  const spoof = await call(`${gw}/reviews`, { headers: { ...(await token('mallory')), ...spoofHeaders } });
  rows.push({
    label: 'Mallory sends X-User-Id: alice',
    before: `${describe(naive)}: believed the header`,
    after: `${describe(spoof)}: header stripped, backend saw ${String(spoof.json['caller'] ?? '?')}`,
  });
  await row("Alice reads Bob's reviews", call(`${hr}/reviews/bob`, { headers: shared }), call(`${gw}/reviews/bob`, { headers: await token('alice') }));
  await row('Expired token', 'no token to check', call(`${gw}/reviews`, { headers: { authorization: `Bearer ${expired}` } }));
  await row('Forged token (attacker key)', 'no token to check', call(`${gw}/reviews`, { headers: { authorization: `Bearer ${forged}` } }));
  const review = { period: '2026-H2', rating: 'exceeds', summary: 'Led the incident review.' };
  // Filing a review needs the manager's manager: behalf holds Alice's request until Dana approves
  // that exact request (docs/approvals.md); the shared key skips any such step.
  const held = await call(`${gw}/reviews/bob`, { method: 'POST', headers: await token('alice'), body: review });
  rows.push({ label: 'Alice adds a review for Bob', before: describe(await call(`${hr}/reviews/bob`, { method: 'POST', headers: shared, body: review })), after: `${describe(held)}: waits for Dana` });
  const approval = (held.json['approval'] as { id?: string } | undefined)?.id;
  let approved = '(no approval was asked for)';
  if (approval !== undefined && stack.adminUrl !== undefined) {
    const decided = await fetch(`${stack.adminUrl}/admin/approvals/${approval}/approve`, { method: 'POST', headers: { ...(await token('dana')), 'content-type': 'application/json' }, body: '{"note":"fine"}' });
    approved = decided.ok ? describe(await call(`${gw}/reviews/bob`, { method: 'POST', headers: await token('alice'), body: review })) : `${decided.status} approval not given`;
  }
  rows.push({ label: 'Dana approves; Alice sends it again', before: '(no approval step)', after: approved });
  await row('Bob adds a review for Carol', call(`${hr}/reviews/carol`, { method: 'POST', headers: shared, body: review }), call(`${gw}/reviews/carol`, { method: 'POST', headers: await token('bob'), body: review }));

  const beforeHead = 'shared API key, straight to the backend';
  const w0 = Math.max(...rows.map((r) => r.label.length));
  const w1 = Math.max(...rows.map((r) => r.before.length), beforeHead.length);
  print('');
  print(`${'scenario'.padEnd(w0)}  ${beforeHead.padEnd(w1)}  through behalf`);
  print(`${'-'.repeat(w0)}  ${'-'.repeat(w1)}  ${'-'.repeat(40)}`);
  for (const r of rows) print(`${r.label.padEnd(w0)}  ${r.before.padEnd(w1)}  ${r.after}`);
  return rows;
}

/** `behalf <args>` in this process (the same program as the `behalf` command); its output lines. */
async function behalf(args: string[]): Promise<string> {
  const lines: string[] = [];
  await cli(args, { out: (l) => void lines.push(l), err: (l) => void lines.push(l), exit: () => undefined, env: {}, cwd: process.cwd() });
  return lines.join('\n');
}

/** The trail's records of this run (`audit query --since`), then `audit verify` of the whole trail. */
export async function showTrail(stack: DemoStack, since: Date, print: (line: string) => void): Promise<void> {
  const store = relative(process.cwd(), join(stack.stateDir, 'audit')) || '.';
  print(`\nThis run's records in the trail (behalf audit query --since ${since.toISOString()} --store ${store}):`);
  print(await behalf(['audit', 'query', '--since', since.toISOString(), '--store', store]));
  print(`\nbehalf audit verify --store ${store}:`);
  print(await behalf(['audit', 'verify', '--store', store]));
}

export interface RunOptions {
  /** Where `npm start` keeps its state (and `stack.json`). Default `.behalf/demo`. */
  startStateDir?: string;
  /** The walkthrough's own state when it starts its own demo (emptied first). Default `.behalf/demo-walkthrough`. */
  ownStateDir?: string;
  print?: (line: string) => void;
}

/** `npm run demo`: against the `npm start` stack if it runs, else against a demo of its own. */
export async function runWalkthrough(opts: RunOptions = {}): Promise<{ shared: boolean; rows: Row[] }> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const startStateDir = opts.startStateDir ?? '.behalf/demo';
  const since = new Date(Date.now() - 1_000);
  const found = await findRunningStack(startStateDir);
  let rows: Row[];
  if (found.stack !== undefined) {
    const stack = found.stack;
    print(`behalf demo: running against the \`npm start\` stack (gateway ${stack.gatewayUrl}, dev IdP ${stack.idpUrl}, HR backend ${stack.hrUrl}):`);
    print(`every request below is in its trail (${relative(process.cwd(), join(stack.stateDir, 'audit'))}), by client ${WALKTHROUGH_CLIENT}.`);
    print('"summarise performance reviews for my team", asked through an LLM. Alice manages Bob and Carol (Platform), Dana manages Alice; Mallory is in Finance.');
    rows = await walkthrough(stack, print);
    await showTrail(stack, since, print);
    return { shared: true, rows };
  }

  const ownStateDir = opts.ownStateDir ?? '.behalf/demo-walkthrough';
  print(`behalf demo: no \`npm start\` stack is running (${found.why}), so this walkthrough starts its OWN dev IdP, HR backend and gateway`);
  print(`on free loopback ports, with its own audit trail in ${join(ownStateDir, 'audit')}. Run \`npm start\` in another terminal first to see these requests in its trail.`);
  print('"summarise performance reviews for my team", asked through an LLM. Alice manages Bob and Carol (Platform), Dana manages Alice; Mallory is in Finance.');
  await rm(ownStateDir, { recursive: true, force: true });
  // Its own dev IdP's start-up line would look like a second IdP next to `npm start`'s: the line above says it all.
  const demo = await launchDemo({ stateDir: ownStateDir, logger: pino({ level: 'warn' }), idpLog: () => undefined });
  const stack = stackOf(demo);
  try {
    rows = await walkthrough(stack, print);
  } finally {
    await demo.close();
  }
  await showTrail(stack, since, print);
  return { shared: false, rows };
}

if (import.meta.url === `file://${process.argv[1]}`) await runWalkthrough();
