// The verdicts and the table of scripts/conformance.mjs: how one scenario's checks become an
// outcome, how an outcome directly and through behalf become a verdict, and the printed report.

/**
 * Scenarios behalf does not pass by design, whatever the server, each with its reason. A scenario
 * listed here that fails through behalf is reported, not a regression; one that passes through
 * behalf is simply a pass. Empty: behalf relays tools, resources (with subscriptions), prompts,
 * completions, logging and the upstreams' sampling and elicitation requests, so a scenario that
 * passes directly must pass through behalf. (The one other excuse, an unknown tool answered as an
 * isError result, is in `verdictOf`.)
 */
export const NOT_SERVED = [];

/**
 * `pass`, `fail` (with the first failure's message), `na` (no check passed or failed: only
 * INFO or WARNING, e.g. the SSE polling checks on a server that answers with JSON), or
 * `vacuous`: every check passed, but only because the server answered "Tool <name> not found" as
 * an isError result, which the tool scenarios accept (the server has no such tool, so nothing was
 * exercised). `na` does not count as a pass.
 */
export function outcomeOf(checks) {
  const failed = checks.find((c) => c.status === 'FAILURE');
  if (failed !== undefined || checks.length === 0) return { status: 'fail', message: String(failed?.errorMessage ?? 'no checks ran').slice(0, 160) };
  if (!checks.some((c) => c.status === 'SUCCESS')) return { status: 'na' };
  const unknownTool = checks.every((c) => {
    const r = c.details?.result;
    return r?.isError === true && Array.isArray(r.content) && /Tool \S+ not found/.test(r.content[0]?.text ?? '');
  });
  return { status: unknownTool ? 'vacuous' : 'pass' };
}

/**
 * One scenario on one server: `same` (passes both ways), `gained` (only through behalf),
 * `both-fail`, `expected` (passes directly, fails through behalf for a documented reason) or
 * `regression` (passes directly, fails through behalf, no documented reason).
 */
export function verdictOf(scenario, direct, behalf) {
  const passedDirectly = passed(direct);
  const passedBehalf = passed(behalf);
  if (passedDirectly && passedBehalf) return { kind: 'same' };
  if (!passedDirectly && passedBehalf) return { kind: 'gained' };
  if (!passedDirectly) return { kind: 'both-fail' };
  if (direct.status === 'vacuous') return { kind: 'expected', reason: 'passes directly only by answering "Tool ... not found" as an isError result (the server has no such tool); behalf answers an unknown tool with the JSON-RPC error -32602, as the spec lists it' };
  const known = NOT_SERVED.find(([re]) => re.test(scenario));
  if (known !== undefined) return { kind: 'expected', reason: known[1] };
  return { kind: 'regression', reason: behalf?.message ?? 'no result through behalf' };
}

const SHOW = { pass: 'pass', fail: 'FAIL', vacuous: 'pass*', na: 'n/a', undefined: '-' };
const passed = (o) => o?.status === 'pass' || o?.status === 'vacuous';

/** Prints the table, the reasons and the counts; returns the exit code (1 on a regression). Sets `s.verdicts`. */
export function report(servers, ms) {
  const scenarios = [...new Set(servers.flatMap((s) => [...s.results.direct.keys(), ...s.results.behalf.keys()]))];
  const reasons = [];
  const regressions = [];
  const width = (s) => s.title.length + 2 + 8 + 8 + 16;
  const head = ['scenario'.padEnd(32), ...servers.map((s) => `${s.title}: direct  behalf  verdict`.padEnd(width(s)))].join('');
  console.log(`\nMCP conformance (${servers.length} servers, ${scenarios.length} scenarios, suite "all"), directly and through behalf\n`);
  console.log(head);
  console.log('-'.repeat(head.length));
  for (const sc of scenarios) {
    const cells = servers.map((s) => {
      const d = s.results.direct.get(sc);
      const b = s.results.behalf.get(sc);
      const v = verdictOf(sc, d, b);
      s.verdicts = { ...s.verdicts, [sc]: v };
      let mark = { same: 'ok', gained: 'gained', 'both-fail': '', regression: 'REGRESSION' }[v.kind];
      if (v.kind === 'expected') {
        let n = reasons.indexOf(v.reason);
        if (n < 0) n = reasons.push(v.reason) - 1;
        mark = `excused [${n + 1}]`;
      }
      if (v.kind === 'regression') regressions.push(`${s.title} / ${sc}: ${v.reason}`);
      return `${' '.repeat(s.title.length + 2)}${SHOW[d?.status].padEnd(8)}${SHOW[b?.status].padEnd(8)}${mark}`.padEnd(width(s));
    });
    console.log(`${sc.padEnd(32)}${cells.join('')}`);
  }
  console.log('\npass*: passed only because the server answered "Tool ... not found" as an isError result (nothing was exercised)');
  console.log('n/a: no check passed or failed (only INFO/WARNING: e.g. SSE polling checks against a JSON answer); not a pass');
  reasons.forEach((r, i) => console.log(`[${i + 1}] ${r}`));
  console.log('');
  for (const s of servers) {
    const count = (m) => [...m.values()].filter(passed).length;
    const kinds = Object.values(s.verdicts).reduce((acc, v) => ((acc[v.kind] = (acc[v.kind] ?? 0) + 1), acc), {});
    console.log(
      `${s.title}: ${count(s.results.direct)}/${s.results.direct.size} scenarios pass directly, ${count(s.results.behalf)}/${s.results.behalf.size} through behalf; ` +
        `${kinds.same ?? 0} pass both ways, ${kinds.gained ?? 0} pass only through behalf, ${kinds.expected ?? 0} excused, ${kinds.regression ?? 0} regressions`,
    );
  }
  console.log(`(${(ms / 1000).toFixed(1)} s)`);
  if (regressions.length > 0) {
    console.log(`\n${regressions.length} REGRESSION(S): passes directly, fails through behalf:\n  ${regressions.join('\n  ')}`);
    return 1;
  }
  console.log('\nno regressions: every scenario that passes directly passes through behalf (excused ones listed above)');
  return 0;
}

/** The results as `[{ server, scenarios: { <name>: { direct, behalf, verdict, reason? } } }]` (after {@link report}). */
export function jsonOf(servers) {
  return servers.map((s) => ({
    server: s.id,
    scenarios: Object.fromEntries(
      [...new Set([...s.results.direct.keys(), ...s.results.behalf.keys()])].map((sc) => [
        sc,
        { direct: s.results.direct.get(sc)?.status, behalf: s.results.behalf.get(sc)?.status, verdict: s.verdicts[sc].kind, ...(s.verdicts[sc].reason ? { reason: s.verdicts[sc].reason } : {}) },
      ]),
    ),
  }));
}
