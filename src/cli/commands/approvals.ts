import type { Command } from 'commander';
import { adminCall, DEFAULT_ADMIN_URL, type AdminFlags } from '../admin-client.js';
import type { CliIo } from '../io.js';

const ADMIN_URL_HELP = `the gateway's admin API (default BEHALF_ADMIN_URL or ${DEFAULT_ADMIN_URL})`;

/** One approval as the admin API shows it. */
type View = Record<string, unknown> & { approvers?: { users?: string[]; roles?: string[]; groups?: string[] } };

function approversText(v: View): string {
  const a = v.approvers ?? {};
  return [...(a.users ?? []), ...(a.roles ?? []).map((r) => `role ${r}`), ...(a.groups ?? []).map((g) => `group ${g}`)].join(', ');
}

/** One line: id, state, who asks for what, under which rule, until when. */
function line(v: View): string {
  const by = v.client === undefined || v.client === null ? String(v.user) : `${String(v.user)} via ${String(v.client)}`;
  const until = v.state === 'approved' ? `usable until ${String(v.usableUntil)}` : `until ${String(v.expiresAt)}`;
  return `${String(v.id)}  ${String(v.state).padEnd(8)}  ${by}: ${String(v.target)}  (rule ${String(v.ruleId)}; ${until})${v.mayDecide === true ? '  [you may decide]' : ''}`;
}

/**
 * `behalf approvals list|show|approve|deny`: human approval through a running gateway's admin
 * API (docs/approvals.md). A person uses their own access token from the IdP in `BEHALF_TOKEN`
 * (approving needs one: the gateway checks they are an approver and not the requester);
 * automation may use `BEHALF_ADMIN_TOKEN` to list, show and deny, never to approve. Tokens are
 * read from the environment only (a flag would show in `ps`).
 *
 * Exit codes: 0 done; 1 refused or unreachable (the server's error code and message are
 * printed); 2 usage (no token set).
 */
export function registerApprovalsCommands(program: Command, io: CliIo): void {
  const approvals = program.command('approvals').description('list and decide requests waiting for a person (admin API)');
  const token = (): string | undefined => {
    const t = io.env.BEHALF_TOKEN || io.env.BEHALF_ADMIN_TOKEN;
    if (t === undefined || t === '') {
      io.err('set BEHALF_TOKEN to your own access token (approvers), or BEHALF_ADMIN_TOKEN (list, show and deny only)');
      io.exit(2);
      return undefined;
    }
    return t;
  };
  const call = async (flags: AdminFlags, method: string, path: string, body?: unknown) => {
    const t = token();
    return t === undefined ? undefined : adminCall(io, flags, t, method, path, body);
  };

  approvals
    .command('list')
    .description('the approvals you may decide and your own requests (all of them with the admin token), newest first')
    .option('--state <state>', 'only pending, approved, denied, used or expired ones')
    .option('--json', 'print JSON')
    .option('--admin-url <url>', ADMIN_URL_HELP)
    .action(async (flags: AdminFlags & { state?: string; json?: boolean }) => {
      const json = await call(flags, 'GET', `/admin/approvals${flags.state === undefined ? '' : `?state=${encodeURIComponent(flags.state)}`}`);
      if (json === undefined) return;
      const list = json.approvals as View[];
      if (flags.json === true) return io.out(JSON.stringify(list, null, 2));
      if (list.length === 0) io.out('no approvals');
      for (const v of list) io.out(line(v));
    });

  approvals
    .command('show')
    .description('one approval, with the arguments or body it is bound to')
    .argument('<id>', 'the approval id')
    .option('--json', 'print JSON')
    .option('--admin-url <url>', ADMIN_URL_HELP)
    .action(async (id: string, flags: AdminFlags & { json?: boolean }) => {
      const json = await call(flags, 'GET', `/admin/approvals/${encodeURIComponent(id)}`);
      if (json === undefined) return;
      const v = json.approval as View;
      if (flags.json === true) return io.out(JSON.stringify(v, null, 2));
      io.out(line(v));
      if (v.reason !== undefined && v.reason !== null) io.out(`  reason:    ${String(v.reason)}`);
      io.out(`  arguments: ${v.arguments === undefined || v.arguments === null ? '(none)' : String(v.arguments)}`);
      io.out(`  approvers: ${approversText(v)}`);
      if (v.decidedBy !== undefined && v.decidedBy !== null) io.out(`  decided:   ${String(v.state)} by ${String(v.decidedBy)} at ${String(v.decidedAt)}${v.note === undefined || v.note === null ? '' : `: ${String(v.note)}`}`);
    });

  for (const action of ['approve', 'deny'] as const) {
    approvals
      .command(action)
      .description(action === 'approve' ? 'approve a waiting request (your own token in BEHALF_TOKEN)' : 'refuse a waiting request')
      .argument('<id>', 'the approval id')
      .option('--note <text>', 'a note for the requester and the trail')
      .option('--admin-url <url>', ADMIN_URL_HELP)
      .action(async (id: string, flags: AdminFlags & { note?: string }) => {
        const json = await call(flags, 'POST', `/admin/approvals/${encodeURIComponent(id)}/${action}`, flags.note === undefined ? {} : { note: flags.note });
        if (json === undefined) return;
        const v = json.approval as View;
        io.out(action === 'approve' ? `approved ${String(v.id)}: ${String(v.user)} may ${String(v.target)} once, until ${String(v.usableUntil)}` : `denied ${String(v.id)}: ${String(v.user)}: ${String(v.target)}`);
      });
  }
}
