/**
 * Pieces of the SIGKILL test: `behalf serve` as a real child process on a given audit store, and
 * a load of concurrent clients that keeps the request id of every response it received in full.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { freePort } from '../../examples/hr-demo/launch.js';
import { spawnCli, type CliProcess } from '../cli/helpers.js';

/** The audience the test IdP mints tokens for. */
export const AUDIENCE = 'http://gateway.test';

/** Everything but the port, the IdP, the upstream and the audit store is fixed. */
const CONFIG = `
server: { host: 127.0.0.1, port: "\${PORT}", publicUrl: "http://127.0.0.1:\${PORT}" }
issuers:
  - { id: idp, issuer: "\${IDP}", audience: "${AUDIENCE}" }
routes:
  - { id: api, path: /api, upstream: "\${UPSTREAM}" }
policies:
  - { id: anyone, effect: allow, match: { routes: [api] } }
signing: { keyFile: "\${STATE}/keys.json" }
audit: { store: "\${AUDIT_STORE}" }
log: { level: warn }
`;

/** A gateway config on disk and the environment that fills it in. */
export interface ServeSetup {
  readonly url: string;
  readonly configFile: string;
  readonly env: Record<string, string>;
}

/** Writes the config into `stateDir`, on a free port. */
export async function serveSetup(stateDir: string, vars: { idp: string; upstream: string; auditStore: string }): Promise<ServeSetup> {
  const port = await freePort();
  const configFile = join(stateDir, 'behalf.yaml');
  await writeFile(configFile, CONFIG);
  return {
    url: `http://127.0.0.1:${port}`,
    configFile,
    env: { PORT: String(port), STATE: stateDir, IDP: vars.idp, UPSTREAM: vars.upstream, AUDIT_STORE: vars.auditStore },
  };
}

/** `behalf serve` started from `setup`, resolved once `/healthz` answers (fails if it exits first). */
export async function startServe(setup: ServeSetup, timeoutMs = 10_000): Promise<CliProcess> {
  const proc = spawnCli(['serve', '--config', setup.configFile], setup.env);
  let exited = false;
  proc.child.once('exit', () => (exited = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${setup.url}/healthz`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return proc;
    } catch {
      // not listening yet
    }
    if (exited || Date.now() > deadline) {
      proc.child.kill('SIGKILL');
      throw new Error(`behalf serve did not become healthy\nstdout: ${proc.stdout()}\nstderr: ${proc.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Kills `proc` with SIGKILL and resolves once it is gone (reaped: its pid no longer holds a lock). */
export async function killHard(proc: CliProcess): Promise<void> {
  const gone = proc.exited(5_000);
  proc.child.kill('SIGKILL');
  await gone;
}

/** What the clients saw. */
export interface LoadResult {
  /** Request ids of the responses received in full (head and whole body), any status. */
  readonly answered: string[];
  /** Requests that failed before `stop()`: there should be none. */
  readonly failedBeforeStop: string[];
  /** Requests in flight when the gateway died (reset, refused or cut short after `stop()`). */
  readonly cut: number;
}

/** A running load; `stop()` is called just before the gateway is killed, `done` once every client has ended. */
export interface Load {
  answeredSoFar(): number;
  stop(): void;
  readonly done: Promise<LoadResult>;
}

/**
 * `clients` concurrent clients, each on its own keep-alive connection, alternating GET and POST
 * to `<url>/api/items/...` with `token`, until `stop()`. A response counts as answered only once
 * its whole body has arrived.
 */
export function startLoad(url: string, token: string, clients = 16): Load {
  const agent = new Agent({ connections: clients, headersTimeout: 5_000, bodyTimeout: 5_000 });
  const answered: string[] = [];
  const failedBeforeStop: string[] = [];
  let cut = 0;
  let stopped = false;
  const client = async (c: number): Promise<void> => {
    for (let i = 0; !stopped; i++) {
      const post = i % 2 === 1;
      try {
        const res = await request(`${url}/api/items/${c}-${i}`, {
          dispatcher: agent,
          method: post ? 'POST' : 'GET',
          headers: { authorization: `Bearer ${token}`, ...(post ? { 'content-type': 'application/json' } : {}) },
          ...(post ? { body: JSON.stringify({ client: c, call: i }) } : {}),
        });
        await res.body.arrayBuffer();
        const id = res.headers['x-request-id'];
        if (typeof id === 'string') answered.push(id);
        else if (!stopped) failedBeforeStop.push(`status ${res.statusCode} without X-Request-Id`);
      } catch (err) {
        if (stopped) {
          cut++;
          return;
        }
        failedBeforeStop.push((err as Error).message);
      }
    }
  };
  const done = Promise.all(Array.from({ length: clients }, (_, c) => client(c))).then(async () => {
    await agent.destroy();
    return { answered, failedBeforeStop, cut };
  });
  return {
    answeredSoFar: () => answered.length,
    stop: () => void (stopped = true),
    done,
  };
}

/**
 * Leaves half a record at the end of the newest segment of an embedded audit store, as a write
 * torn by a crash or power loss would (SIGKILL alone does not tear a write(2) to a file).
 */
export async function tearLastSegment(auditDir: string): Promise<void> {
  const segments = (await readdir(auditDir)).filter((f) => /^segment-\d+\.jsonl$/.test(f)).sort();
  const newest = segments.at(-1);
  if (newest === undefined) throw new Error(`no segment in ${auditDir}`);
  const path = join(auditDir, newest);
  const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '');
  const last = lines.at(-1);
  if (last === undefined) throw new Error(`${path} is empty`);
  await writeFile(path, last.slice(0, Math.floor(last.length / 2)), { flag: 'a' });
}
