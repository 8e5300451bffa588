/**
 * The `Accept` header (RFC 9110, section 12.5.1), for the routes that answer in two forms:
 * a block as JSON or as its encoding, the stream as server-sent events or as framed blocks.
 * A few lines rather than a dependency: the routes ask one question only, whether the
 * binary form was asked for and is preferred.
 *
 * The header's length is bounded by Node's HTTP parser (16 KiB of headers), and the reading
 * is one pass over it.
 */

/** One media range: type and subtype in lower case (`*` for a wildcard), and its weight 0..1. */
export interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
}

const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** qvalue: 0, 0.x to 0.xxx, 1, 1.0 to 1.000. */
const QVALUE_RE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;

/** Splits `text` at `separator` outside double-quoted strings (which may hold it, and backslash escapes). */
function splitOutsideQuotes(text: string, separator: ',' | ';'): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/**
 * The media ranges of an Accept header, in order. A range that is not `type/subtype` (or
 * `type/*`, `*\/*`), or whose `q` is not a qvalue, is left out: it says nothing the server
 * can act on, and the default form answers.
 * @throws TypeError when `header` is not a string.
 * @example parseAccept('application/octet-stream;q=0, text/event-stream') // [{type: 'application', subtype: 'octet-stream', q: 0}, {type: 'text', subtype: 'event-stream', q: 1}]
 */
export function parseAccept(header: string): MediaRange[] {
  if (typeof header !== 'string') throw new TypeError(`an Accept header is text, not ${typeof header}`);
  const ranges: MediaRange[] = [];
  for (const element of splitOutsideQuotes(header, ',')) {
    const [range = '', ...parameters] = splitOutsideQuotes(element, ';');
    const [type = '', subtype = '', ...rest] = range.trim().toLowerCase().split('/');
    if (rest.length > 0 || !TOKEN_RE.test(type) || !TOKEN_RE.test(subtype) || (type === '*' && subtype !== '*')) continue;
    let q = 1;
    let valid = true;
    for (const parameter of parameters) {
      const equals = parameter.indexOf('=');
      if (equals < 0 || parameter.slice(0, equals).trim().toLowerCase() !== 'q') continue;
      const value = parameter.slice(equals + 1).trim();
      if (!QVALUE_RE.test(value)) valid = false;
      else q = Number(value);
    }
    if (valid) ranges.push({ type, subtype, q });
  }
  return ranges;
}

/**
 * The weight `ranges` give `mediaType` (`type/subtype`, lower case): that of the most
 * specific range that matches it (`type/subtype`, then `type/*`, then `*\/*`; the highest
 * when one is listed twice), or 0 when none does.
 * @throws RangeError when `mediaType` is not `type/subtype` in lower case.
 * @example qualityOf(parseAccept('text/*;q=0.5, *\/*;q=0.1'), 'text/event-stream') // 0.5
 */
export function qualityOf(ranges: readonly MediaRange[], mediaType: string): number {
  const [type = '', subtype = '', ...rest] = mediaType.split('/');
  if (rest.length > 0 || !TOKEN_RE.test(type) || !TOKEN_RE.test(subtype) || type === '*' || subtype === '*') throw new RangeError(`not a media type: ${JSON.stringify(mediaType)}`);
  let best = -1;
  let q = 0;
  for (const r of ranges) {
    const specificity = r.type === type && r.subtype === subtype ? 2 : r.type === type && r.subtype === '*' ? 1 : r.type === '*' ? 0 : -1;
    if (specificity < 0 || specificity < best) continue;
    q = specificity > best ? r.q : Math.max(q, r.q);
    best = specificity;
  }
  return q;
}

/**
 * Whether a request asked for the binary form (`application/octet-stream`, named itself:
 * a wildcard does not choose it) with a weight above 0 and at least that of the route's
 * other form, `alternative` (which answers otherwise, whatever the header says).
 * @throws RangeError when `alternative` is not a media type.
 * @example prefersBinary('application/octet-stream;q=0, text/event-stream', 'text/event-stream') // false
 */
export function prefersBinary(header: string | undefined, alternative: string): boolean {
  if (header === undefined) return false;
  const ranges = parseAccept(header);
  const named = ranges.filter((r) => r.type === 'application' && r.subtype === 'octet-stream');
  if (named.length === 0) return false;
  const binary = qualityOf(named, 'application/octet-stream');
  return binary > 0 && binary >= qualityOf(ranges, alternative);
}
