import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { DEV_USER_GRANT, startDevIdp } from '../../dev-idp/index.js';
import { readDevUsersFile } from '../../dev-idp/users-file.js';
import type { CliIo } from '../io.js';

/** Where the dev IdP keeps its signing key unless `--key-file` says otherwise (relative to the working directory). */
export const DEFAULT_DEV_IDP_KEY_FILE = '.behalf/dev-idp/signing-key.json';
/** The dev IdP's port unless `--port` says otherwise (the one `npm start` uses). */
export const DEFAULT_DEV_IDP_PORT = 9400;

/**
 * Is `host` a loopback address (127.0.0.0/8, ::1) or `localhost`? Only these are reachable from
 * this machine alone.
 *
 * This does NOT resolve names: a name other than `localhost` counts as not loopback.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

function port(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65_535) throw new InvalidArgumentError('expected a port number (0-65535; 0 picks a free one).');
  return Number(value);
}

function seconds(value: string): number {
  if (!/^\d{1,7}$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number of seconds, at least 1.');
  return Number(value);
}

function httpUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol === 'http:' || u.protocol === 'https:') return value.replace(/\/+$/, '') || value;
  } catch {
    // reported below
  }
  throw new InvalidArgumentError('expected an http(s) URL, e.g. http://127.0.0.1:8080 (your gateway\'s server.publicUrl).');
}

const collect = <T>(parse: (v: string) => T) => (value: string, previous: T[] | undefined): T[] => [...(previous ?? []), parse(value)];

interface DevIdpFlags {
  port: number;
  host: string;
  users?: string;
  audience?: string[];
  scope?: string[];
  issuer?: string;
  keyFile: string;
  tokenTtl?: number;
  iKnowThisIsInsecure?: boolean;
}

/**
 * `behalf dev-idp`: the development identity provider on its own, for trying a new config end to
 * end without a real IdP (src/dev-idp/). DEV ONLY: anyone who reaches it can sign in as any of its
 * users. It listens on loopback unless `--host` names another address AND
 * `--i-know-this-is-insecure` is given; its RSA key is kept in `--key-file` (created 0600), so
 * tokens it issued keep verifying after a restart.
 *
 * This does NOT persist registered clients, codes or refresh tokens (they live in memory), and does
 * NOT authenticate anybody.
 *
 * Exit codes: 0 stopped by Ctrl-C/SIGTERM; 1 it cannot start (users file, key file, port in use);
 * 2 usage (a missing --audience or --users, a non-loopback --host without the flag).
 */
export function registerDevIdpCommand(program: Command, io: CliIo): void {
  program
    .command('dev-idp')
    .description('DEV ONLY: run the development identity provider (anyone can sign in as any listed user)')
    .option('--users <file>', 'YAML or JSON list of users: { id, name, email, roles, groups } (e.g. examples/hr-demo/users.yaml)')
    .option('--audience <url>', "an audience tokens may carry: your gateway's publicUrl (repeat for more, e.g. <publicUrl>/mcp)", collect(httpUrl))
    .option('--port <port>', 'listen port (0 picks a free one)', port, DEFAULT_DEV_IDP_PORT)
    .option('--host <address>', 'listen address; only loopback without --i-know-this-is-insecure', '127.0.0.1')
    .option('--issuer <url>', 'issuer URL tokens carry (default: the listen URL)', httpUrl)
    .option('--scope <scope>', 'a scope granted when a client asks for none (repeatable)', collect(String))
    .option('--token-ttl <seconds>', 'access token lifetime in seconds (default 3600)', seconds)
    .option('--key-file <file>', 'where the signing key is kept across restarts (created with mode 0600)', DEFAULT_DEV_IDP_KEY_FILE)
    .option('--i-know-this-is-insecure', 'allow a non-loopback --host: anyone who reaches it can get tokens for any listed user')
    .action(async (flags: DevIdpFlags, cmd: Command) => {
      if (flags.users === undefined) cmd.error('error: --users <file> is required (a list of { id, name, email, roles, groups }; example: examples/hr-demo/users.yaml)', { exitCode: 2, code: 'behalf.dev-idp.usage' });
      if (flags.audience === undefined) cmd.error("error: --audience <url> is required: your gateway's server.publicUrl, as its issuers[].audience expects", { exitCode: 2, code: 'behalf.dev-idp.usage' });
      if (!isLoopbackHost(flags.host) && flags.iKnowThisIsInsecure !== true) {
        cmd.error(`error: --host ${flags.host} is not a loopback address: anyone who reaches the dev IdP can get tokens for any of its users. Add --i-know-this-is-insecure to bind it anyway`, { exitCode: 2, code: 'behalf.dev-idp.usage' });
      }
      const users = readDevUsersFile(resolve(io.cwd, flags.users!));
      const keyFile = resolve(io.cwd, flags.keyFile);
      await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
      const idp = await startDevIdp({
        host: flags.host,
        port: flags.port,
        users,
        audience: flags.audience!,
        keyFile,
        ...(flags.issuer === undefined ? {} : { issuer: flags.issuer }),
        ...(flags.scope === undefined ? {} : { defaultScopes: flags.scope }),
        ...(flags.tokenTtl === undefined ? {} : { tokenTtlSeconds: flags.tokenTtl }),
        log: () => undefined,
      });
      const rule = '='.repeat(78);
      for (const line of [
        rule,
        '  behalf dev-idp: DEVELOPMENT ONLY. Anyone who can reach it can sign in as any user',
        '  below and get a signed token. Never let a production gateway trust this issuer.',
        ...(isLoopbackHost(flags.host) ? [] : [`  LISTENING ON ${flags.host}, NOT LOOPBACK (--i-know-this-is-insecure).`]),
        rule,
      ]) {
        io.err(line);
      }
      io.out(`issuer     ${idp.issuer}   (listening on ${idp.url})`);
      io.out(`audience   ${flags.audience!.join(', ')}`);
      io.out(`users      ${users.map((u) => u.id).join(', ')}`);
      io.out(`key file   ${keyFile}   (kept: tokens survive a restart)`);
      io.out('');
      io.out('In your config:');
      io.out(`  issuers:\n    - { id: dev-idp, issuer: "${idp.issuer}", audience: "${flags.audience![0]}", requireType: at+jwt }`);
      io.out(`A token for a user (add -d 'scope=a b' for other scopes than ${flags.scope === undefined ? 'none' : flags.scope.join(' ')}):`);
      io.out(`  curl -s -X POST ${idp.url}/token -d grant_type=${DEV_USER_GRANT} -d user=${users[0]!.id}`);
      io.out('Press Ctrl-C to stop.');
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void idp.close().then(done);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
