import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import { BehalfError } from '../errors.js';
import type { ToolCatalog, ToolDefinition } from '../tools/types.js';

/**
 * Tool arguments checked against each tool's `inputSchema` (JSON Schema, with ajv and
 * ajv-formats) before policy sees them: invalid arguments never reach a policy condition or a
 * backend.
 */

/** The outcome of validating one call's arguments. */
export type ArgumentCheck =
  | { readonly ok: true; readonly args: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly message: string };

/** Validators for every tool of a catalog. */
export interface ArgumentValidators {
  /**
   * Checks `args` for the tool `name`. Absent arguments (`undefined`) are `{}`; anything else
   * that is not a plain JSON object (an array, `null`, a string) is refused. The message names
   * the field (`/employee: must be string`, `missing required argument "employee"`), is at most
   * {@link MAX_MESSAGE_CHARS} characters, and never quotes an argument's value. An unknown tool
   * name is refused too (the door should have answered "unknown tool" first).
   */
  validate(name: string, args: unknown): ArgumentCheck;
}

/** Longest validation message, in characters. */
export const MAX_MESSAGE_CHARS = 400;
/** Most schema violations named in one message. */
const MAX_ERRORS = 5;

type AddFormats = (ajv: Ajv | Ajv2020) => unknown;
// ajv-formats is CommonJS with `exports.default`: under NodeNext the default import may be the module.
const addFormats: AddFormats = ((addFormatsPlugin as unknown as { default?: AddFormats }).default ?? addFormatsPlugin) as AddFormats;

/** Schemas without `$schema` are JSON Schema 2020-12 (the MCP default); draft-07 and -06 are accepted when declared. */
function makeAjv(): { draft2020: Ajv2020; draft07: Ajv } {
  // strict: false, because upstream schemas carry keywords ajv does not know (`x-...`, `examples`
  // in odd places); an unknown keyword is ignored, as JSON Schema says. Formats are checked.
  const opts = { strict: false, allErrors: true, validateFormats: true } as const;
  const draft2020 = new Ajv2020(opts);
  const draft07 = new Ajv(opts);
  addFormats(draft2020);
  addFormats(draft07);
  return { draft2020, draft07 };
}

let shared: { draft2020: Ajv2020; draft07: Ajv } | undefined;

/**
 * Compiles one input schema. Throws an Error with ajv's message (without a path prefix: the
 * caller adds `tools[3].inputSchema: ` or the upstream tool's name) when the schema is not a
 * valid JSON Schema, or when it is not an object schema (`type` must be `"object"` when given).
 *
 * This does NOT bound the time a `pattern` takes on a hostile argument: patterns run on
 * JavaScript's backtracking regex engine. Keep patterns in tool schemas simple.
 */
export function compileInputSchema(schema: Readonly<Record<string, unknown>>): ValidateFunction {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) throw new Error('must be a JSON Schema object');
  if ('type' in schema && schema['type'] !== 'object') throw new Error('must describe an object ("type": "object")');
  shared ??= makeAjv();
  const dialect = typeof schema['$schema'] === 'string' ? schema['$schema'] : undefined;
  const ajv = dialect !== undefined && /json-schema\.org\/draft-0[67]\/schema/.test(dialect) ? shared.draft07 : shared.draft2020;
  try {
    return ajv.compile(schema);
  } catch (err) {
    throw new Error(oneLine(err instanceof Error ? err.message : String(err)));
  }
}

/**
 * Compiles a validator for every tool in `catalog` now (so a bad schema stops the start), and
 * later for tools a `replaceSource` added (once per definition object, on first use). Throws
 * `config-invalid` naming the tool (`tool "lookup" inputSchema: ...`) for a config tool's schema
 * that does not compile (`compileHttpTools` reports the same earlier, with its config path); an
 * upstream tool with a broken schema is not a start-up error, but every call to it is refused.
 *
 * This does NOT check what arguments mean (policy does), does NOT coerce, default or strip
 * anything (the arguments forwarded are exactly those validated), and does NOT bound a
 * pattern's run time (see {@link compileInputSchema}).
 */
export function compileArgumentValidators(catalog: ToolCatalog): ArgumentValidators {
  // A schema that does not compile is remembered too, so it is not recompiled on every call.
  const compiled = new WeakMap<ToolDefinition, ValidateFunction | BehalfError>();
  const compile = (definition: ToolDefinition): ValidateFunction | BehalfError => {
    let fn = compiled.get(definition);
    if (fn === undefined) {
      try {
        fn = compileInputSchema(definition.inputSchema);
      } catch (err) {
        fn = new BehalfError('config-invalid', `tool "${definition.name}" inputSchema: ${(err as Error).message}`);
      }
      compiled.set(definition, fn);
    }
    return fn;
  };
  for (const tool of catalog.list()) {
    // A config tool's schema is the operator's to fix before start; an upstream's broken schema
    // only makes that tool uncallable (its calls are refused below).
    const fn = compile(tool.definition);
    if (fn instanceof BehalfError && tool.source.kind === 'http') throw fn;
  }

  return {
    validate(name, args) {
      const tool = catalog.get(name);
      if (tool === undefined) return { ok: false, message: 'unknown tool' };
      const value = args === undefined ? {} : args;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, message: 'arguments must be an object' };
      const fn = compile(tool.definition);
      if (fn instanceof BehalfError) return { ok: false, message: 'the tool\'s input schema is invalid' };
      if (fn(value)) return { ok: true, args: value as Record<string, unknown> };
      return { ok: false, message: describeErrors(fn.errors ?? []) };
    },
  };
}

/** One line naming each violated field, bounded; never an argument's value. */
export function describeErrors(errors: readonly ErrorObject[]): string {
  const parts: string[] = [];
  for (const e of errors) {
    if (parts.length === MAX_ERRORS) {
      parts.push(`and ${errors.length - MAX_ERRORS} more`);
      break;
    }
    const line = describeError(e);
    if (!parts.includes(line)) parts.push(line);
  }
  const text = parts.length === 0 ? 'invalid arguments' : parts.join('; ');
  return text.length <= MAX_MESSAGE_CHARS ? text : `${text.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
}

function describeError(e: ErrorObject): string {
  const at = pointer(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const prop = quoteName(params['missingProperty']);
      return at === '' ? `missing required argument ${prop}` : `${at}: missing required property ${prop}`;
    }
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const prop = quoteName(params['additionalProperty'] ?? params['unevaluatedProperty']);
      return at === '' ? `unknown argument ${prop}` : `${at}: unknown property ${prop}`;
    }
    case 'enum': {
      const allowed = Array.isArray(params['allowedValues']) ? params['allowedValues'].map((v) => JSON.stringify(v)).join(', ') : '';
      return `${at || 'arguments'}: must be one of ${allowed.length > 120 ? `${allowed.slice(0, 119)}…` : allowed}`;
    }
    default:
      // ajv's messages name the schema's constraint (`must be string`, `must match format "email"`,
      // `must NOT have more than 10 characters`), never the value checked.
      return `${at || 'arguments'}: ${e.message ?? 'is invalid'}`;
  }
}

/** The JSON pointer of the field, each segment bounded: property names come from the caller. */
function pointer(instancePath: string): string {
  if (instancePath === '') return '';
  const segments = instancePath.split('/').map((s) => (s.length > 64 ? `${s.slice(0, 63)}…` : s));
  const joined = sanitize(segments.join('/'));
  return joined.length > 160 ? `${joined.slice(0, 159)}…` : joined;
}

function quoteName(value: unknown): string {
  const s = String(value);
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 63)}…` : s);
}

/** Control characters (a newline in a property name) would break the one-line message. */
function sanitize(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, '?');
}

function oneLine(s: string): string {
  const line = sanitize(s.replace(/\s*\n\s*/g, ' '));
  return line.length > MAX_MESSAGE_CHARS ? `${line.slice(0, MAX_MESSAGE_CHARS - 1)}…` : line;
}
