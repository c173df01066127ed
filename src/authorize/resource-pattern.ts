/**
 * `match.resources` patterns: MCP resource URIs where `*` stands for any run of characters
 * (`/` included) and every other character is itself. `hr://reviews/*` matches
 * `hr://reviews/bob` and `hr://reviews/bob/2025`; `hr://reviews/bob` matches only itself.
 * Case matters, nothing is decoded or normalised: the URI an upstream gets is the URI that was
 * matched (resolve refuses URIs an upstream could read differently, see resolve/targets.ts).
 */

const STAR = -1;

/** A compiled pattern. */
export interface ResourcePattern {
  readonly source: string;
  /** True when `uri` matches. */
  matches(uri: string): boolean;
  /**
   * True when some URI the RFC 6570 `template` can produce could match: each `{...}` expression
   * of the template is read as "any characters". So `hr://reviews/*` could match
   * `hr://reviews/{employee}`, `hr://reviews/bob` could too (for `employee=bob`), and
   * `hr://salaries/*` could not.
   */
  couldMatchTemplate(template: string): boolean;
  /**
   * True when EVERY URI the template can produce matches (each `{...}` expression may be
   * anything, so only a `*` of the pattern can stand for it): `hr://reviews/*` covers
   * `hr://reviews/{employee}`, `hr://reviews/mallory` does not. A deny rule hides a template from
   * a list only when it covers it.
   */
  coversTemplate(template: string): boolean;
}

/** Codes of the characters, with each `*` as {@link STAR} (consecutive stars as one). */
function tokens(pattern: string, star: (s: string, i: number) => number): number[] {
  const out: number[] = [];
  for (let i = 0; i < pattern.length; ) {
    const skip = star(pattern, i);
    if (skip > 0) {
      if (out.at(-1) !== STAR) out.push(STAR);
      i += skip;
    } else {
      out.push(pattern.charCodeAt(i));
      i += 1;
    }
  }
  return out;
}

const patternStar = (s: string, i: number) => (s[i] === '*' ? 1 : 0);
const templateStar = (s: string, i: number) => {
  if (s[i] !== '{') return 0;
  const close = s.indexOf('}', i);
  return close < 0 ? 0 : close - i + 1;
};

/** Whether two token lists (each with stars) share a string: a table over their positions, filled from the ends. */
function intersect(a: readonly number[], b: readonly number[]): boolean {
  const w = b.length + 1;
  const can = new Uint8Array((a.length + 1) * w);
  can[a.length * w + b.length] = 1;
  for (let i = a.length; i >= 0; i--) {
    for (let j = b.length; j >= 0; j--) {
      if (i === a.length && j === b.length) continue;
      let ok = false;
      if (i < a.length && a[i] === STAR) ok = can[(i + 1) * w + j] === 1 || (j < b.length && can[i * w + j + 1] === 1);
      if (!ok && j < b.length && b[j] === STAR) ok = can[i * w + j + 1] === 1 || (i < a.length && can[(i + 1) * w + j] === 1);
      if (!ok && i < a.length && j < b.length && a[i] !== STAR && b[j] !== STAR) ok = a[i] === b[j] && can[(i + 1) * w + j + 1] === 1;
      can[i * w + j] = ok ? 1 : 0;
    }
  }
  return can[0] === 1;
}

/** Whether pattern `p` matches every string of `t`, where a star of `t` can only be absorbed by a star of `p`. */
function covers(p: readonly number[], t: readonly number[]): boolean {
  const w = t.length + 1;
  const can = new Uint8Array((p.length + 1) * w);
  can[p.length * w + t.length] = 1;
  for (let i = p.length; i >= 0; i--) {
    for (let j = t.length; j >= 0; j--) {
      if (i === p.length) {
        can[i * w + j] = j === t.length ? 1 : 0;
        continue;
      }
      const ok = p[i] === STAR ? can[(i + 1) * w + j] === 1 || (j < t.length && can[i * w + j + 1] === 1) : j < t.length && t[j] !== STAR && p[i] === t[j] && can[(i + 1) * w + j + 1] === 1;
      can[i * w + j] = ok ? 1 : 0;
    }
  }
  return can[0] === 1;
}

/** Compiles one pattern of `match.resources`. */
export function compileResourcePattern(source: string): ResourcePattern {
  const pieces = source.split('*');
  const exact = pieces.length === 1;
  const compiled = tokens(source, patternStar);
  return {
    source,
    matches(uri) {
      if (exact) return uri === source;
      // First piece anchored at the start, last at the end, the middle ones found left to right.
      const first = pieces[0]!;
      const last = pieces[pieces.length - 1]!;
      if (uri.length < first.length + last.length || !uri.startsWith(first) || !uri.endsWith(last)) return false;
      let at = first.length;
      const end = uri.length - last.length;
      for (let k = 1; k < pieces.length - 1; k++) {
        const piece = pieces[k]!;
        if (piece === '') continue;
        const found = uri.indexOf(piece, at);
        if (found < 0 || found + piece.length > end) return false;
        at = found + piece.length;
      }
      return true;
    },
    couldMatchTemplate(template) {
      return intersect(compiled, tokens(template, templateStar));
    },
    coversTemplate(template) {
      return covers(compiled, tokens(template, templateStar));
    },
  };
}
