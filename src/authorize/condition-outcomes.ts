import { parse, serialize, type ASTNode } from '@marcbachmann/cel-js';
import { compileCondition, type CompiledCondition, type ConditionVariables } from './condition.js';

/**
 * What a condition could evaluate to for some request body: the analysis `tools/list` (and every
 * list) uses to show what a call could be allowed for (policy.ts `canList`, `listDecision`).
 */

/** A condition could evaluate to true. */
export const OUTCOME_TRUE = 1;
/** A condition could evaluate to false. */
export const OUTCOME_FALSE = 2;
/** A condition could fail to evaluate (an error: fail closed). */
export const OUTCOME_ERROR = 4;
const ANY = OUTCOME_TRUE | OUTCOME_FALSE | OUTCOME_ERROR;

/** A condition as a tree of what it could evaluate to, given everything but `body`. */
type Analysis = (vars: ConditionVariables) => number;

const analyses = new WeakMap<CompiledCondition, Analysis>();

/**
 * Every outcome `condition` could have over all possible `body` values, as a bit set of
 * {@link OUTCOME_TRUE}, {@link OUTCOME_FALSE} and {@link OUTCOME_ERROR}, with `vars` giving
 * everything else (user, request, directory). A condition that does not mention `body` has
 * exactly its own outcome. Otherwise its `&&`, `||`, `!` and `?:` structure is followed with
 * CEL's rules (`false && error` is false, `true || error` is true), each part without `body`
 * is evaluated, and each part with it may be anything, except two shapes whose answer the
 * arguments cannot change: `<body...> in L` and `L.exists(...)` / `L.exists_one(...)` are
 * false (or an error) when `L`, which does not mention `body`, is empty, and `L.all(...)` is
 * then true. So `body.employee in user.reports` cannot hold for a user without reports.
 *
 * The result is a superset of the real outcomes (it treats the parts as independent), which
 * is what makes hiding safe: "cannot be true" and "is never false" are only concluded when they
 * hold for every argument.
 *
 * This does NOT use the tool's input schema (an argument restricted to an enum is still "any
 * value"), nor see through other functions of `body`: those parts are "may be anything".
 */
export function conditionOutcomes(condition: CompiledCondition, vars: ConditionVariables): number {
  let analysis = analyses.get(condition);
  if (analysis === undefined) {
    analysis = analyse(condition);
    analyses.set(condition, analysis);
  }
  return analysis(vars);
}

function analyse(condition: CompiledCondition): Analysis {
  let ast: ASTNode;
  try {
    ast = parse(condition.source).ast;
  } catch {
    return () => ANY;
  }
  if (!mentionsBody(ast)) return (vars) => single(condition, vars);
  return build(ast);
}

function build(node: ASTNode): Analysis {
  if (!mentionsBody(node)) {
    const part = compilePart(serialize(node));
    return part === undefined ? () => ANY : (vars) => single(part, vars);
  }
  switch (node.op) {
    case '&&':
    case '||': {
      const [a, b] = [build(node.args[0]), build(node.args[1])];
      const combine = node.op === '&&' ? and : or;
      return (vars) => combine(a(vars), b(vars));
    }
    case '!_': {
      const a = build(node.args);
      return (vars) => not(a(vars));
    }
    case '?:': {
      const [c, a, b] = [build(node.args[0]), build(node.args[1]), build(node.args[2])];
      return (vars) => {
        const cond = c(vars);
        return (cond & OUTCOME_TRUE ? a(vars) : 0) | (cond & OUTCOME_FALSE ? b(vars) : 0) | (cond & OUTCOME_ERROR);
      };
    }
    case 'in':
      // `<body...> in L`: nothing is in an empty L.
      return mentionsBody(node.args[1]) ? () => ANY : whenEmpty(node.args[1], OUTCOME_FALSE | OUTCOME_ERROR);
    case 'rcall': {
      const [fn, receiver] = node.args;
      if (mentionsBody(receiver)) return () => ANY;
      if (fn === 'exists' || fn === 'exists_one') return whenEmpty(receiver, OUTCOME_FALSE);
      if (fn === 'all') return whenEmpty(receiver, OUTCOME_TRUE);
      return () => ANY;
    }
    default:
      return () => ANY;
  }
}

/** ANY, except `ifEmpty` when the list or map `node` (free of `body`) is empty; an error if it errors. */
function whenEmpty(node: ASTNode, ifEmpty: number): Analysis {
  const nonEmpty = compilePart(`size(${serialize(node)}) > 0`);
  if (nonEmpty === undefined) return () => ANY;
  return (vars) => {
    const r = nonEmpty.evaluate(vars);
    if (!r.ok) return OUTCOME_ERROR;
    return r.value ? ANY : ifEmpty;
  };
}

/** A part compiled on its own; undefined when it cannot be (it uses a macro's variable): treated as ANY. */
function compilePart(source: string): CompiledCondition | undefined {
  try {
    return compileCondition(source);
  } catch {
    return undefined;
  }
}

function single(condition: CompiledCondition, vars: ConditionVariables): number {
  const r = condition.evaluate(vars);
  return !r.ok ? OUTCOME_ERROR : r.value ? OUTCOME_TRUE : OUTCOME_FALSE;
}

/** Every pairing of the two sides' outcomes under CEL's `&&` (false wins, then error). */
function and(a: number, b: number): number {
  let out = 0;
  if (a & OUTCOME_FALSE || b & OUTCOME_FALSE) out |= OUTCOME_FALSE;
  if ((a & OUTCOME_ERROR && b & (OUTCOME_TRUE | OUTCOME_ERROR)) || (b & OUTCOME_ERROR && a & OUTCOME_TRUE)) out |= OUTCOME_ERROR;
  if (a & OUTCOME_TRUE && b & OUTCOME_TRUE) out |= OUTCOME_TRUE;
  return out;
}

/** Every pairing under CEL's `||` (true wins, then error). */
function or(a: number, b: number): number {
  let out = 0;
  if (a & OUTCOME_TRUE || b & OUTCOME_TRUE) out |= OUTCOME_TRUE;
  if ((a & OUTCOME_ERROR && b & (OUTCOME_FALSE | OUTCOME_ERROR)) || (b & OUTCOME_ERROR && a & OUTCOME_FALSE)) out |= OUTCOME_ERROR;
  if (a & OUTCOME_FALSE && b & OUTCOME_FALSE) out |= OUTCOME_FALSE;
  return out;
}

function not(a: number): number {
  return (a & OUTCOME_TRUE ? OUTCOME_FALSE : 0) | (a & OUTCOME_FALSE ? OUTCOME_TRUE : 0) | (a & OUTCOME_ERROR);
}

/** Whether `body` appears anywhere in the expression (also as a macro variable's name: then it may shadow, and "mentions" is the safe answer). */
function mentionsBody(node: ASTNode): boolean {
  if (node.op === 'id') return node.args === 'body';
  if (node.op === 'value') return false;
  const visit = (v: unknown): boolean => {
    if (Array.isArray(v)) return v.some(visit);
    if (v !== null && typeof v === 'object' && 'op' in v) return mentionsBody(v as ASTNode);
    return false;
  };
  return visit(node.args);
}
