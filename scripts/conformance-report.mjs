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
 * `pass`, `fail` (with the first failure's message, and `testable`: the ids of the failed checks
 * that were not "Not testable" for want of a diagnostic tool), `na` (no check passed or failed: only
 * INFO or WARNING, e.g. the SSE polling checks on a server that answers with JSON), or
 * `vacuous`: every check passed, but only because the server answered "Tool <name> not found" as
 * an isError result, which the tool scenarios accept (the server has no such tool, so nothing was
 * exercised). `na` does not count as a pass.
 */
export function outcomeOf(checks) {
  const failures = checks.filter((c) => c.status === 'FAILURE');
  if (failures.length > 0 || checks.length === 0) {
    // The suite says "Not testable: ..." when the server lacks a diagnostic tool a check needs.
    const testable = [...new Set(failures.filter((c) => !/^Not testable/i.test(String(c.errorMessage ?? ''))).map((c) => c.id))];
    return { status: 'fail', message: String(failures[0]?.errorMessage ?? 'no checks ran').slice(0, 160), testable };
  }
  // 0.2.x adds `wire-schema-valid` (every message the server sent fits the schema) to every
  // scenario: it counts when it fails, but alone it exercises nothing.
  const own = checks.filter((c) => c.id !== WIRE_SCHEMA_CHECK);
  if (!own.some((c) => c.status === 'SUCCESS')) return { status: 'na' };
  const results = own.filter((c) => c.details?.result !== undefined);
  const unknownTool =
    results.length > 0 &&
    results.length === own.length &&
    results.every((c) => {
      const r = c.details.result;
      return r?.isError === true && Array.isArray(r.content) && /Tool \S+ not found/.test(r.content[0]?.text ?? '');
    });
  return { status: unknownTool ? 'vacuous' : 'pass' };
}

const WIRE_SCHEMA_CHECK = 'wire-schema-valid';

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
export function report(servers, ms, suite = '') {
  const scenarios = [...new Set(servers.flatMap((s) => [...s.results.direct.keys(), ...s.results.behalf.keys()]))];
  const reasons = [];
  const regressions = [];
  const width = (s) => s.title.length + 2 + 8 + 8 + 16;
  const col = Math.max(32, ...scenarios.map((sc) => sc.length + 2));
  const head = ['scenario'.padEnd(col), ...servers.map((s) => `${s.title}: direct  behalf  verdict`.padEnd(width(s)))].join('');
  console.log(`\nMCP conformance${suite === '' ? '' : ` ${suite}`} (${servers.length} servers, ${scenarios.length} scenarios, suite "all"), directly and through behalf\n`);
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
    console.log(`${sc.padEnd(col)}${cells.join('')}`);
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
    console.log(`\n${suite} ${regressions.length} REGRESSION(S): passes directly, fails through behalf:\n  ${regressions.join('\n  ')}`);
    return 1;
  }
  console.log(`\n${suite === '' ? '' : `${suite}: `}no regressions: every scenario that passes directly passes through behalf (excused ones listed above)`);
  return 0;
}

/**
 * The results as `[{ suite, server, scenarios: { <name>: { direct, behalf, verdict, reason?,
 * behalfFailures? } } }]` (after {@link report}); `behalfFailures`: the testable checks that
 * failed through behalf.
 */
export function jsonOf(servers) {
  return servers.map((s) => ({
    ...(s.suite === undefined ? {} : { suite: s.suite }),
    server: s.id,
    scenarios: Object.fromEntries(
      [...new Set([...s.results.direct.keys(), ...s.results.behalf.keys()])].map((sc) => [
        sc,
        {
          direct: s.results.direct.get(sc)?.status,
          behalf: s.results.behalf.get(sc)?.status,
          verdict: s.verdicts[sc].kind,
          ...(s.verdicts[sc].reason ? { reason: s.verdicts[sc].reason } : {}),
          ...(s.results.behalf.get(sc)?.testable ? { behalfFailures: s.results.behalf.get(sc).testable } : {}),
        },
      ]),
    ),
  }));
}
