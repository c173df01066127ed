/**
 * Where a running HR demo can be found. `npm start` writes `stack.json` into its state folder
 * once the dev IdP, the HR backend and the gateway listen, and removes it when it stops;
 * `npm run demo` reads it to run against that stack, so the walkthrough's requests land in the
 * trail `npm start` told the user to tail.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Demo } from './launch.js';
import { isAlive } from '../../src/lib/process-alive.js';

/** The URLs of a running demo and the folder holding its state (signing keys, audit trail, dev IdP key). */
export interface DemoStack {
  /** The process serving it. */
  readonly pid: number;
  readonly gatewayUrl: string;
  /** The dev IdP: its listen URL and its `iss`. */
  readonly idpUrl: string;
  readonly idpIssuer: string;
  readonly hrUrl: string;
  /** The admin API, where approvers decide (absent in a stack file of an older demo). */
  readonly adminUrl?: string;
  /** Absolute path of the state folder; the trail is `<stateDir>/audit`. */
  readonly stateDir: string;
}

/** The file, in the state folder, naming a running stack. */
export const STACK_FILE = 'stack.json';
/** The dev IdP's private key, in the state folder (so tokens survive a restart of `npm start`). */
export const DEV_IDP_KEY_FILE = 'dev-idp-key.json';

export function stackOf(demo: Demo): DemoStack {
  return { pid: process.pid, gatewayUrl: demo.gatewayUrl, idpUrl: demo.idp.url, idpIssuer: demo.idp.issuer, hrUrl: demo.hr.url, adminUrl: demo.adminUrl, stateDir: demo.stateDir };
}

/** Record `stack` as running (in `<stack.stateDir>/stack.json`). */
export async function writeStackFile(stack: DemoStack): Promise<void> {
  await writeFile(join(stack.stateDir, STACK_FILE), `${JSON.stringify(stack, null, 2)}\n`, { mode: 0o600 });
}

/** Remove the record of the stack this process serves; one written by another process is left alone. */
export async function removeStackFile(stateDir: string): Promise<void> {
  const file = join(resolve(stateDir), STACK_FILE);
  const recorded = await readStack(file);
  if (recorded?.pid === process.pid) await rm(file, { force: true });
}

/**
 * The stack recorded in `<stateDir>/stack.json`, if it is really running: its process is alive,
 * the gateway answers `/healthz` and the dev IdP serves discovery with the recorded issuer (each
 * within `timeoutMs`). Otherwise `why` says what was missing, for the user.
 *
 * This does NOT prove the gateway runs the HR demo's config; it trusts the file for that.
 */
export async function findRunningStack(stateDir: string, timeoutMs = 1_000): Promise<{ stack: DemoStack } | { stack: undefined; why: string }> {
  const file = join(stateDir, STACK_FILE);
  const stack = await readStack(file);
  if (stack === undefined) return { stack: undefined, why: `nothing recorded in ${file}` };
  if (!isAlive(stack.pid)) return { stack: undefined, why: `the process ${stack.pid} named in ${file} is gone` };
  const healthy = await answers(`${stack.gatewayUrl}/healthz`, timeoutMs);
  if (healthy === undefined || !healthy.ok) return { stack: undefined, why: `no gateway answering at ${stack.gatewayUrl}` };
  const discovery = await answers(`${stack.idpIssuer}/.well-known/openid-configuration`, timeoutMs);
  const issuer = discovery?.ok === true ? ((await discovery.json().catch(() => ({}))) as { issuer?: unknown }).issuer : undefined;
  if (issuer !== stack.idpIssuer) return { stack: undefined, why: `no dev IdP answering at ${stack.idpIssuer}` };
  return { stack };
}

async function readStack(file: string): Promise<DemoStack | undefined> {
  let value: Partial<DemoStack>;
  try {
    value = JSON.parse(await readFile(file, 'utf8')) as Partial<DemoStack>;
  } catch {
    return undefined;
  }
  const text = (v: unknown): v is string => typeof v === 'string' && v !== '';
  if (typeof value.pid !== 'number' || !text(value.gatewayUrl) || !text(value.idpUrl) || !text(value.idpIssuer) || !text(value.hrUrl) || !text(value.stateDir)) return undefined;
  return value as DemoStack;
}


async function answers(url: string, timeoutMs: number): Promise<Response | undefined> {
  try {
    return await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    return undefined;
  }
}
