/**
 * Lexer and parser of SCL (SCL.md sections 1 and 2). Pure: text in, syntax tree or one
 * SYN001 diagnostic out. A file that does not parse gets exactly one diagnostic, at the
 * first token the grammar cannot accept, saying what was expected.
 *
 * Bounded: source bytes, tokens, contracts, identifier length, integer digits, call
 * arguments and expression nesting all have limits (limits.ts); lists are never spread
 * into a function call's arguments. Recursion happens only inside expressions and is bounded by
 * EXPRESSION_NESTING_MAX, so no input can overflow the stack.
 */
import type { BinaryOp, Builtin, Contract, Currency, Decl, Deadline, Effect, Expr, Init, Member, Param, Pos, Ref, StateBody, Transition, Type } from './ast.js';
import { BUILTINS } from './ast.js';
import type { Diagnostic } from './diagnostic.js';
import { CALL_ARGUMENTS_MAX, CONTRACTS_PER_FILE_MAX, EXPRESSION_DEPTH_MAX, EXPRESSION_NESTING_MAX, IDENTIFIER_CHARS_MAX, INTEGER_DIGITS_MAX, SOURCE_BYTES_MAX, TOKENS_MAX } from './limits.js';

export const KEYWORDS: ReadonlySet<string> = new Set(
  (
    'contract parties params ref currency require horizon init state final on when after escrow from pay to true false ' +
    'and or not max amount int bool blocks asset settled height entered balance eventually always next until pending ' +
    'proposed mempool future'
  ).split(' '),
);

/** 'error': a lexical error (its text is the message), the last token; the parser fails on it when it gets there. */
type TokenKind = 'ident' | 'keyword' | 'int' | 'punct' | 'eof' | 'error';
/** A token keeps its position as three numbers; the Pos object is built only for tree nodes. */
class Token {
  constructor(
    readonly kind: TokenKind,
    readonly text: string,
    readonly line: number,
    readonly column: number,
    readonly offset: number,
  ) {}
  get pos(): Pos {
    return { line: this.line, column: this.column, offset: this.offset };
  }
}

class SyntaxFailure extends Error {
  constructor(
    readonly pos: Pos,
    message: string,
  ) {
    super(message);
  }
}

const PUNCT2 = new Set(['==', '!=', '<=', '>=', '->']);
const PUNCT2_BY_FIRST = new Set([...PUNCT2].map((p) => p.charCodeAt(0)));
const PUNCT1 = new Set(['{', '}', '(', ')', ',', ':', '.', '+', '-', '*', '/', '<', '>']);

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of file';
  const shown = t.text.length > 40 ? `${t.text.slice(0, 40)}...` : t.text;
  return t.kind === 'int' ? `integer ${shown}` : `'${shown}'`;
}

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Splits source into tokens. Columns count characters; every valid token is ASCII. A
 * lexical error ends the list as an 'error' token rather than failing at once, so that a
 * grammar error before it is the one reported (review of 2026-12-02: a bad character on
 * the last line was reported instead of a missing name on the first).
 */
function lex(text: string): Token[] {
  const tokens: Token[] = [];
  try {
    lexInto(text, tokens);
  } catch (error) {
    if (!(error instanceof SyntaxFailure)) throw error;
    tokens.push(new Token('error', error.message, error.pos.line, error.pos.column, error.pos.offset));
  }
  return tokens;
}

function lexInto(text: string, tokens: Token[]): void {
  let i = 0;
  let line = 1;
  let lineStart = 0;
  // Surrogate pairs (characters beyond U+FFFF, in comments) on this line so far: columns
  // count characters, not UTF-16 units (review of 2026-12-02).
  let pairs = 0;
  const n = text.length;
  while (true) {
    // Skip white space and comments. A line ends at LF (CRLF included); a lone CR is white
    // space and does not end a line or a `//` comment. Kept so on purpose: deploys are
    // checked by every validator and deployed contracts parsed again at load, so a lone CR
    // ending a comment would turn commented-out text into code on chains already written
    // (a review of 2026-12-02 suggested it; SCL.md does not define a line).
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 10) {
        i++;
        line++;
        lineStart = i;
        pairs = 0;
      } else if (c === 32 || c === 9 || c === 13) i++;
      else if (c === 47 && text.charCodeAt(i + 1) === 47) {
        for (let k = text.charCodeAt(i); i < n && k !== 10; k = text.charCodeAt(++i)) {
          if (k >= 0xd800 && k <= 0xdbff) {
            const low = text.charCodeAt(i + 1);
            if (low >= 0xdc00 && low <= 0xdfff) pairs++;
          }
        }
      } else break;
    }
    const column = i - lineStart + 1 - pairs;
    if (tokens.length >= TOKENS_MAX) throw new SyntaxFailure({ line, column, offset: i }, `more than ${TOKENS_MAX} tokens in one file`);
    if (i >= n) {
      tokens.push(new Token('eof', '', line, column, i));
      return;
    }
    const start = i;
    const c = text.charCodeAt(i);
    if (isIdentStart(c)) {
      while (i < n && isIdentPart(text.charCodeAt(i))) i++;
      if (i - start > IDENTIFIER_CHARS_MAX) throw new SyntaxFailure({ line, column, offset: start }, `identifier of ${i - start} characters; the limit is ${IDENTIFIER_CHARS_MAX}`);
      const word = text.slice(start, i);
      tokens.push(new Token(KEYWORDS.has(word) ? 'keyword' : 'ident', word, line, column, start));
    } else if (isDigit(c)) {
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      if (i - start > INTEGER_DIGITS_MAX) throw new SyntaxFailure({ line, column, offset: start }, `integer of ${i - start} digits; the limit is ${INTEGER_DIGITS_MAX}`);
      // `5x`: reported at the integer, the start of the token that is not one (it was at
      // the letter before 2026-12-02), since an identifier that starts with a digit is the
      // likely intent.
      if (i < n && isIdentStart(text.charCodeAt(i))) {
        throw new SyntaxFailure({ line, column, offset: start }, `expected a separator after the integer ${text.slice(start, i)} (an identifier starts with a letter or _)`);
      }
      tokens.push(new Token('int', text.slice(start, i), line, column, start));
    } else {
      const two = PUNCT2_BY_FIRST.has(c) ? text.slice(i, i + 2) : '';
      if (two !== '' && PUNCT2.has(two)) {
        tokens.push(new Token('punct', two, line, column, start));
        i += 2;
      } else if (PUNCT1.has(text[i] as string)) {
        tokens.push(new Token('punct', text[i] as string, line, column, start));
        i += 1;
      } else {
        const cp = text.codePointAt(i) as number;
        const shown = cp >= 0x21 && cp <= 0x7e ? `'${String.fromCodePoint(cp)}'` : `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
        throw new SyntaxFailure({ line, column, offset: start }, `unexpected character ${shown}`);
      }
    }
  }
}

interface MutableContract {
  name: string;
  pos: Pos;
  namePos: Pos;
  file: string;
  text: string;
  parties: Member<Decl>[];
  params: Member<Param>[];
  refs: Ref[];
  currency: Currency[];
  requires: Expr[];
  horizons: { value: bigint; pos: Pos }[];
  inits: Init[];
  states: StateBody[];
  finals: Member<Decl>[];
}

const CMP_OPS = new Set(['==', '!=', '<', '<=', '>', '>=']);

class Parser {
  private at = 0;
  private depth = 0;
  /** Depth of each operator node built (walkers recurse over trees, so it is bounded); leaves are 1. */
  private readonly treeDepth = new Map<Expr, number>();
  /** The position of the outermost '(' around an expression written in parentheses. */
  private readonly parenthesized = new Map<Expr, Pos>();
  /** Where an expression's first token is, its opening parentheses included (SCL.md section 5: a binary expression is named at its first token, which may be a '('). */
  private startOf(e: Expr): Pos {
    return this.parenthesized.get(e) ?? e.pos;
  }
  /** Builds a node one level above its children, refusing trees deeper than the bound. */
  private node(e: Expr, children: readonly Expr[]): Expr {
    let d = 0;
    for (const c of children) d = Math.max(d, this.treeDepth.get(c) ?? 1);
    if (d + 1 > EXPRESSION_DEPTH_MAX) throw new SyntaxFailure(e.pos, `expression of more than ${EXPRESSION_DEPTH_MAX} nested operations`);
    this.treeDepth.set(e, d + 1);
    return e;
  }
  constructor(
    private readonly tokens: Token[],
    private readonly source: string,
    private readonly file: string,
  ) {}

  private peek(ahead = 0): Token {
    const t = this.tokens[Math.min(this.at + ahead, this.tokens.length - 1)] as Token;
    if (t.kind === 'error') throw new SyntaxFailure(t.pos, t.text);
    return t;
  }
  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.at++;
    return t;
  }
  private fail(expected: string, t: Token = this.peek()): never {
    throw new SyntaxFailure(t.pos, `expected ${expected}, found ${describe(t)}`);
  }
  private isPunct(text: string): boolean {
    const t = this.peek();
    return t.kind === 'punct' && t.text === text;
  }
  private isKeyword(text: string): boolean {
    const t = this.peek();
    return t.kind === 'keyword' && t.text === text;
  }
  private punct(text: string): Token {
    if (!this.isPunct(text)) this.fail(`'${text}'`);
    return this.next();
  }
  private keyword(text: string): Token {
    if (!this.isKeyword(text)) this.fail(`'${text}'`);
    return this.next();
  }
  private name(what: string): Decl {
    const t = this.peek();
    if (t.kind !== 'ident') this.fail(t.kind === 'keyword' ? `${what} (a keyword is not a name)` : what);
    this.next();
    return { name: t.text, pos: t.pos };
  }
  private int(what: string): { value: bigint; pos: Pos } {
    const t = this.peek();
    if (t.kind !== 'int') this.fail(what);
    this.next();
    return { value: BigInt(t.text), pos: t.pos };
  }

  file_(): Contract[] {
    const out: Contract[] = [];
    do {
      if (out.length >= CONTRACTS_PER_FILE_MAX) throw new SyntaxFailure(this.peek().pos, `more than ${CONTRACTS_PER_FILE_MAX} contracts in one file`);
      out.push(this.contract());
    } while (this.peek().kind !== 'eof');
    return out;
  }

  private contract(): Contract {
    const start = this.keyword('contract');
    const name = this.name('a contract name');
    this.punct('{');
    const c: MutableContract = {
      name: name.name,
      pos: start.pos,
      namePos: name.pos,
      file: this.file,
      text: '',
      parties: [],
      params: [],
      refs: [],
      currency: [],
      requires: [],
      horizons: [],
      inits: [],
      states: [],
      finals: [],
    };
    while (!this.isPunct('}')) this.member(c);
    const close = this.next();
    c.text = this.source.slice(start.pos.offset, close.pos.offset + 1);
    return c;
  }

  private member(c: MutableContract): void {
    const t = this.peek();
    if (t.kind !== 'keyword') this.fail("a member ('parties', 'params', 'ref', 'currency', 'require', 'horizon', 'init', 'state', 'final') or '}'");
    switch (t.text) {
      case 'parties':
        this.next();
        c.parties.push({ pos: t.pos, items: this.nameList('a party name') });
        return;
      case 'params': {
        this.next();
        const items = [this.param()];
        while (this.isPunct(',')) {
          this.next();
          items.push(this.param());
        }
        c.params.push({ pos: t.pos, items });
        return;
      }
      case 'ref': {
        this.next();
        const name = this.name('a ref name');
        this.punct(':');
        const contract = this.name('a contract name');
        c.refs.push({ ...name, contract: contract.name, contractPos: contract.pos });
        return;
      }
      case 'currency': {
        this.next();
        // A finding about the name points at the name, as for ref and after (until
        // 2026-12-01 it pointed at the keyword: review); a repeated member at the keyword.
        const name = this.name('the name of an asset param');
        c.currency.push({ name: name.name, pos: name.pos, memberPos: t.pos });
        return;
      }
      case 'require':
        this.next();
        c.requires.push(this.expr());
        return;
      case 'horizon':
        this.next();
        c.horizons.push({ value: this.int('an integer number of blocks').value, pos: t.pos });
        return;
      case 'init': {
        this.next();
        const state = this.name('the initial state name');
        const effects = this.isPunct('{') ? this.effects() : [];
        c.inits.push({ pos: t.pos, state: state.name, statePos: state.pos, effects });
        return;
      }
      case 'state': {
        this.next();
        const name = this.name('a state name');
        this.punct('{');
        const transitions: Transition[] = [];
        while (!this.isPunct('}')) transitions.push(this.transition());
        this.next();
        c.states.push({ name: name.name, pos: t.pos, namePos: name.pos, transitions });
        return;
      }
      case 'final':
        this.next();
        c.finals.push({ pos: t.pos, items: this.nameList('a state name') });
        return;
      default:
        this.fail("a member ('parties', 'params', 'ref', 'currency', 'require', 'horizon', 'init', 'state', 'final') or '}'");
    }
  }

  private nameList(what: string): Decl[] {
    const out = [this.name(what)];
    while (this.isPunct(',')) {
      this.next();
      out.push(this.name(what));
    }
    return out;
  }

  private param(): Param {
    const name = this.name('a parameter name');
    this.punct(':');
    return { ...name, type: this.type() };
  }

  private type(): Type {
    const t = this.peek();
    if (t.kind === 'keyword') {
      if (t.text === 'amount' || t.text === 'int' || t.text === 'bool' || t.text === 'asset') {
        this.next();
        return { kind: t.text };
      }
      if (t.text === 'blocks') {
        this.next();
        this.keyword('max');
        return { kind: 'blocks', max: this.int('an integer bound after max').value };
      }
    }
    return this.fail("a type ('amount', 'int', 'bool', 'asset' or 'blocks max N')");
  }

  private transition(): Transition {
    const t = this.peek();
    if (this.isKeyword('on')) {
      this.next();
      const actor = this.name('the acting party');
      this.punct('.');
      const action = this.name('an action name');
      this.punct('(');
      const args: Param[] = [];
      if (!this.isPunct(')')) {
        args.push(this.param());
        while (this.isPunct(',')) {
          this.next();
          args.push(this.param());
        }
      }
      this.punct(')');
      let guard: Expr | null = null;
      if (this.isKeyword('when')) {
        this.next();
        guard = this.expr();
      }
      this.punct('->');
      const target = this.name('a target state name');
      const effects = this.isPunct('{') ? this.effects() : [];
      return { kind: 'on', pos: t.pos, actor: actor.name, actorPos: actor.pos, action: action.name, actionPos: action.pos, args, guard, target: target.name, targetPos: target.pos, effects };
    }
    if (this.isKeyword('after')) {
      this.next();
      const d = this.peek();
      let deadline: Deadline;
      if (d.kind === 'int') deadline = { kind: 'int', ...this.int('a deadline') };
      else if (d.kind === 'ident') deadline = { kind: 'name', ...this.name('a deadline') };
      else return this.fail('a deadline (an integer or a blocks param)');
      this.punct('->');
      const target = this.name('a target state name');
      const effects = this.isPunct('{') ? this.effects() : [];
      return { kind: 'after', pos: t.pos, deadline, target: target.name, targetPos: target.pos, effects };
    }
    return this.fail("a transition ('on' or 'after') or '}'");
  }

  private effects(): Effect[] {
    this.punct('{');
    const out: Effect[] = [];
    while (!this.isPunct('}')) {
      const t = this.peek();
      if (this.isKeyword('escrow')) {
        this.next();
        const amount = this.expr();
        this.keyword('from');
        const party = this.name('a party name');
        out.push({ kind: 'escrow', pos: t.pos, amount, party: party.name, partyPos: party.pos });
      } else if (this.isKeyword('pay')) {
        this.next();
        const amount = this.expr();
        this.keyword('to');
        const party = this.name('a party name');
        out.push({ kind: 'pay', pos: t.pos, amount, party: party.name, partyPos: party.pos });
      } else this.fail("an effect ('escrow' or 'pay') or '}'");
    }
    this.next();
    return out;
  }

  // Expressions: one function per precedence level. `enter` bounds the recursion.
  private enter(): void {
    if (++this.depth > EXPRESSION_NESTING_MAX) throw new SyntaxFailure(this.peek().pos, `expression nested deeper than ${EXPRESSION_NESTING_MAX} levels`);
  }

  expr(): Expr {
    this.enter();
    let left = this.and();
    while (this.isKeyword('or')) {
      this.next();
      {
        const right = this.and();
        left = this.node({ kind: 'binary', op: 'or', left, right, pos: this.startOf(left) }, [left, right]);
      }
    }
    this.depth--;
    return left;
  }
  private and(): Expr {
    let left = this.not();
    while (this.isKeyword('and')) {
      this.next();
      {
        const right = this.not();
        left = this.node({ kind: 'binary', op: 'and', left, right, pos: this.startOf(left) }, [left, right]);
      }
    }
    return left;
  }
  private not(): Expr {
    // `not not not e`: a loop, then the operators applied innermost first.
    const nots: Pos[] = [];
    while (this.isKeyword('not')) {
      nots.push(this.next().pos);
      if (nots.length > EXPRESSION_NESTING_MAX) throw new SyntaxFailure(this.peek().pos, `expression nested deeper than ${EXPRESSION_NESTING_MAX} levels`);
    }
    let e = this.until();
    for (let i = nots.length - 1; i >= 0; i--) e = this.node({ kind: 'unary', op: 'not', operand: e, pos: nots[i] as Pos }, [e]);
    return e;
  }
  private until(): Expr {
    const left = this.cmp();
    if (!this.isKeyword('until')) return left;
    this.next();
    const right = this.cmp();
    return this.node({ kind: 'binary', op: 'until', left, right, pos: this.startOf(left) }, [left, right]);
  }
  private cmp(): Expr {
    const left = this.sum();
    const t = this.peek();
    if (t.kind !== 'punct' || !CMP_OPS.has(t.text)) return left;
    this.next();
    const right = this.sum();
    return this.node({ kind: 'binary', op: t.text as BinaryOp, left, right, pos: this.startOf(left) }, [left, right]);
  }
  private sum(): Expr {
    let left = this.prod();
    while (this.isPunct('+') || this.isPunct('-')) {
      const op = this.next().text as BinaryOp;
      const right = this.prod();
      left = this.node({ kind: 'binary', op, left, right, pos: this.startOf(left) }, [left, right]);
    }
    return left;
  }
  private prod(): Expr {
    let left = this.unary();
    while (this.isPunct('*') || this.isPunct('/')) {
      const op = this.next().text as BinaryOp;
      const right = this.unary();
      left = this.node({ kind: 'binary', op, left, right, pos: this.startOf(left) }, [left, right]);
    }
    return left;
  }
  private unary(): Expr {
    const minus: Pos[] = [];
    while (this.isPunct('-')) {
      minus.push(this.next().pos);
      if (minus.length > EXPRESSION_NESTING_MAX) throw new SyntaxFailure(this.peek().pos, `expression nested deeper than ${EXPRESSION_NESTING_MAX} levels`);
    }
    let e = this.atom();
    for (let i = minus.length - 1; i >= 0; i--) e = this.node({ kind: 'unary', op: '-', operand: e, pos: minus[i] as Pos }, [e]);
    return e;
  }
  private atom(): Expr {
    const t = this.peek();
    if (t.kind === 'int') {
      this.next();
      return { kind: 'int', value: BigInt(t.text), pos: t.pos };
    }
    if (t.kind === 'punct' && t.text === '(') {
      this.next();
      const e = this.expr();
      this.punct(')');
      this.parenthesized.set(e, t.pos); // the outermost '(' is the last set
      return e;
    }
    if (t.kind === 'keyword') {
      if (t.text === 'true' || t.text === 'false') {
        this.next();
        return { kind: 'bool', value: t.text === 'true', pos: t.pos };
      }
      if (t.text === 'height' || t.text === 'entered') {
        this.next();
        return { kind: t.text, pos: t.pos };
      }
      if ((BUILTINS as readonly string[]).includes(t.text)) {
        this.next();
        this.punct('(');
        const args: Expr[] = [];
        if (!this.isPunct(')')) {
          args.push(this.expr());
          while (this.isPunct(',')) {
            this.next();
            if (args.length >= CALL_ARGUMENTS_MAX) throw new SyntaxFailure(this.peek().pos, `more than ${CALL_ARGUMENTS_MAX} arguments in one call`);
            args.push(this.expr());
          }
        }
        this.punct(')');
        return this.node({ kind: 'call', fn: t.text as Builtin, args, pos: t.pos }, args);
      }
    }
    if (t.kind === 'ident') {
      this.next();
      if (this.isPunct('.')) {
        this.next();
        this.keyword('state');
        return { kind: 'refState', ref: t.text, pos: t.pos };
      }
      return { kind: 'name', name: t.text, pos: t.pos };
    }
    return this.fail('an expression');
  }
}

export interface ParseResult {
  readonly contracts: readonly Contract[];
  /** Empty, or the one SYN001 diagnostic of this file. */
  readonly diagnostics: readonly Diagnostic[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Parses one source file.
 * @example parseSource('horse.scl', text).contracts[0]?.name // 'HorseSale'
 */
export function parseSource(file: string, source: string | Uint8Array): ParseResult {
  const bytes = typeof source === 'string' ? Buffer.byteLength(source, 'utf8') : source.length;
  const syn = (pos: Pos, message: string): ParseResult => ({
    contracts: [],
    diagnostics: [{ ruleId: 'SYN001', severity: 'error', message, file, line: pos.line, column: pos.column }],
  });
  if (bytes > SOURCE_BYTES_MAX) return syn({ line: 1, column: 1, offset: 0 }, `the source is ${bytes} bytes; the limit is ${SOURCE_BYTES_MAX}`);
  let text: string;
  // A leading byte order mark is not part of the source, whether it comes as bytes (the
  // decoder drops it) or as a string (a deploy's source, POST /v1/lint): before
  // 2026-11-30 the string form refused it with SYN001 (found in review).
  if (typeof source === 'string') text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  else {
    try {
      text = utf8.decode(source);
    } catch {
      return syn({ line: 1, column: 1, offset: 0 }, 'the source is not valid UTF-8');
    }
  }
  try {
    const tokens = lex(text);
    return { contracts: new Parser(tokens, text, file).file_(), diagnostics: [] };
  } catch (error) {
    if (error instanceof SyntaxFailure) return syn(error.pos, error.message);
    throw error;
  }
}
