/**
 * Which upstream resource template a URI belongs to, so `resources/read` of a URI no upstream
 * listed goes to the upstream whose template produces it. RFC 6570 expressions are read the way
 * the MCP SDK's `UriTemplate.match` reads them, but matched without a regular expression: a
 * template with several unbounded expressions (`{+a}/x/{+b}`) would make a backtracking regex
 * slow on a crafted URI, so matching here is a table over (URI position, template part), linear
 * in the URI's length times the template's parts.
 */

/** Longest template accepted, characters. */
export const MAX_TEMPLATE_LENGTH = 1_024;
/** Most expressions in one template. */
const MAX_EXPRESSIONS = 16;

/** One part of a template: literal text, or a run of one or more characters not in `stop`. */
type Part = { readonly literal: string } | { readonly stop: string };

/**
 * The parts of `template`, or undefined when it is not one this matcher reads (over
 * {@link MAX_TEMPLATE_LENGTH} characters or 16 expressions, an unclosed brace, an empty
 * expression). Expressions become runs: `{x}` and `{x*}` any characters but `/` and `,` (an
 * exploded one may contain commas), `{+x}` and `{#x}` anything (`{#x}` after its `#`),
 * `{.x}` a `.` then a run, `{/x}` a `/` then a run, `{;x}` a run without `/`, and `{?a,b}` /
 * `{&a,b}` the literal `?a=` (or `&a=`) then a run without `&`, and so on for each name.
 */
export function templateParts(template: string): readonly Part[] | undefined {
  if (template.length > MAX_TEMPLATE_LENGTH) return undefined;
  const parts: Part[] = [];
  let expressions = 0;
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      parts.push({ literal: template.slice(i) });
      break;
    }
    if (open > i) parts.push({ literal: template.slice(i, open) });
    const close = template.indexOf('}', open);
    if (close < 0 || ++expressions > MAX_EXPRESSIONS) return undefined;
    const body = template.slice(open + 1, close);
    const operator = /^[+#./;?&]/.test(body) ? body[0]! : '';
    const names = body.slice(operator.length).split(',').map((n) => n.trim());
    if (names.some((n) => n === '' || n === '*')) return undefined;
    const exploded = names[0]!.endsWith('*');
    switch (operator) {
      case '?':
      case '&':
        names.forEach((name, k) => {
          parts.push({ literal: `${k === 0 ? operator : '&'}${name}=` }, { stop: '&' });
        });
        break;
      case '+':
        parts.push({ stop: '' });
        break;
      case '#':
        parts.push({ literal: '#' }, { stop: '' });
        break;
      case '.':
        parts.push({ literal: '.' }, { stop: '/,' });
        break;
      case '/':
        parts.push({ literal: '/' }, { stop: exploded ? '/' : '/,' });
        break;
      case ';':
        parts.push({ stop: '/' });
        break;
      default:
        parts.push({ stop: exploded ? '/' : '/,' });
    }
    i = close + 1;
  }
  return parts;
}

/**
 * A predicate telling whether `uri` is one `template` produces, or undefined when the template
 * cannot be read (see {@link templateParts}).
 *
 * This does NOT check that the URI is safe to send (dot segments, encoded slashes): the door does
 * that before routing. It does NOT extract the variables (only the upstream needs them).
 */
export function compileTemplate(template: string): ((uri: string) => boolean) | undefined {
  const parts = templateParts(template);
  if (parts === undefined) return undefined;
  return (uri) => matches(parts, uri);
}

/** Positions reachable in `uri` after each part, part by part; the URI matches when its end is reachable after the last. */
function matches(parts: readonly Part[], uri: string): boolean {
  let reachable = new Uint8Array(uri.length + 1);
  reachable[0] = 1;
  for (const part of parts) {
    const next = new Uint8Array(uri.length + 1);
    let any = false;
    if ('literal' in part) {
      for (let p = 0; p <= uri.length; p++) {
        if (reachable[p] === 1 && uri.startsWith(part.literal, p)) {
          next[p + part.literal.length] = 1;
          any = true;
        }
      }
    } else {
      // A run of one or more characters outside `stop`: from each reachable start, every end up to the first stop character.
      let runFrom = -1;
      for (let p = 0; p < uri.length; p++) {
        if (part.stop.includes(uri[p]!)) {
          runFrom = -1;
          continue;
        }
        if (reachable[p] === 1 && runFrom < 0) runFrom = p;
        if (runFrom >= 0) {
          next[p + 1] = 1;
          any = true;
        }
      }
    }
    if (!any) return false;
    reachable = next;
  }
  return reachable[uri.length] === 1;
}
