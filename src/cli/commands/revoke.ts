import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { adminCall, DEFAULT_ADMIN_URL, type AdminFlags } from '../admin-client.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

interface RevokeFlags extends AdminFlags {
  issuer?: string;
  ttl?: string;
  allTokens?: boolean;
  reason?: string;
  by?: string;
}

/** `90`, `90s`, `30m`, `24h`, `7d` -> seconds; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  if (m === null) return undefined;
  return Number(m[1]) * UNITS[m[2] || 's']!;
}

/**
 * `behalf revoke user|client|token <value>`, `behalf revoke list`, `behalf revoke lift <kind>
 * <value>`: revocations through a running gateway's admin API (docs/operations.md), so every
 * change is audited by the gateway and reaches every instance sharing its store. The admin token
 * is read from `BEHALF_ADMIN_TOKEN` only (a flag would show in `ps`).
 *
 * Exit codes: 0 done; 1 refused or unreachable (the server's error code and message are printed);
 * 2 usage (including a missing `BEHALF_ADMIN_TOKEN`).
 */
export function registerRevokeCommands(program: Command, io: CliIo): void {
  const revoke = program.command('revoke').description('revoke a user, a client or a token on every gateway instance (admin API)');

  const call = async (flags: AdminFlags, method: string, path: string, body?: unknown): Promise<Record<string, unknown> | undefined> => {
    const token = io.env.BEHALF_ADMIN_TOKEN;
    if (token === undefined || token === '') {
      io.err('BEHALF_ADMIN_TOKEN is not set: export the admin token (admin.token in the gateway config)');
      io.exit(2);
      return undefined;
    }
    return adminCall(io, flags, token, method, path, body);
  };

  for (const kind of ['user', 'client', 'token'] as const) {
    const sub = revoke
      .command(kind)
      .description(
        kind === 'token'
          ? 'refuse one token (its jti)'
          : `refuse the ${kind}'s tokens issued until now (with --all-tokens: every token until the revocation ends)`,
      )
      .argument('<value>', kind === 'token' ? 'the jti' : `the ${kind} id as tokens carry it`)
      .option('--issuer <id>', "only tokens of this issuer (issuers[].id); without it a user is named as behalf names them (partner:alice for another issuer's alice), a client at every issuer")
      .option('--ttl <duration>', 'how long it lasts: 3600, 30m, 24h, 7d (default revocation.defaultTtlSeconds)')
      .option('--reason <text>', 'why (kept in the audit trail)')
      .option('--by <name>', 'who asks (default: user@host)')
      .option('--admin-url <url>', `the gateway's admin API (default BEHALF_ADMIN_URL or ${DEFAULT_ADMIN_URL})`);
    if (kind !== 'token') sub.option('--all-tokens', 'also refuse tokens issued after the revocation');
    sub.action(async (value: string, flags: RevokeFlags) => {
      const ttlSeconds = flags.ttl === undefined ? undefined : parseDuration(flags.ttl);
      if (flags.ttl !== undefined && (ttlSeconds === undefined || ttlSeconds < 1)) {
        io.err(`--ttl: not a duration: ${flags.ttl} (use 3600, 30m, 24h or 7d)`);
        io.exit(2);
        return;
      }
      const body = {
        kind,
        value,
        ...(flags.issuer === undefined ? {} : { issuer: flags.issuer }),
        ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
        ...(flags.allTokens === true ? { allTokens: true } : {}),
        ...(flags.reason === undefined ? {} : { reason: flags.reason }),
        by: flags.by ?? defaultActor(),
      };
      const json = await call(flags, 'POST', '/admin/revocations', body);
      if (json === undefined) return;
      const r = json.revocation as Record<string, unknown>;
      io.out(`revoked ${kind} ${value} until ${String(r.until)}${r.issuedBefore === null || kind === 'token' ? '' : ' (tokens issued before now)'}`);
    });
  }

  revoke
    .command('list')
    .description('list the revocations in force')
    .option('--json', 'print JSON')
    .option('--admin-url <url>', `the gateway's admin API (default BEHALF_ADMIN_URL or ${DEFAULT_ADMIN_URL})`)
    .action(async (flags: AdminFlags & { json?: boolean }) => {
      const json = await call(flags, 'GET', '/admin/revocations');
      if (json === undefined) return;
      const list = json.revocations as Record<string, unknown>[];
      if (flags.json === true) {
        io.out(JSON.stringify(list, null, 2));
        return;
      }
      if (list.length === 0) io.out('no revocations in force');
      for (const r of list) {
        io.out(`${String(r.kind).padEnd(6)}  ${String(r.value)}  issuer ${String(r.issuer ?? 'any')}  until ${String(r.until)}${r.reason === null ? '' : `  reason: ${String(r.reason)}`}`);
      }
    });

  revoke
    .command('lift')
    .description('lift a revocation')
    .argument('<kind>', 'user, client or token')
    .argument('<value>', 'the user id, client id or jti')
    .option('--issuer <id>', 'the issuer the revocation was made for')
    .option('--admin-url <url>', `the gateway's admin API (default BEHALF_ADMIN_URL or ${DEFAULT_ADMIN_URL})`)
    .action(async (kind: string, value: string, flags: AdminFlags & { issuer?: string }) => {
      if (!['user', 'client', 'token'].includes(kind)) {
        io.err(`<kind> must be user, client or token, not ${kind}`);
        io.exit(2);
        return;
      }
      const query = flags.issuer === undefined ? '' : `?issuer=${encodeURIComponent(flags.issuer)}`;
      const json = await call(flags, 'DELETE', `/admin/revocations/${kind}/${encodeURIComponent(value)}${query}`);
      if (json !== undefined) io.out(`lifted the revocation of ${kind} ${value}`);
    });
}

function defaultActor(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}
