/** The syntax tree of SCL (SCL.md section 2). Every node carries the position of its first token. */

/** 1-based line and column, and the 0-based offset in the source text. */
export interface Pos {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
}

export type Builtin = 'settled' | 'balance' | 'eventually' | 'always' | 'next' | 'pending' | 'proposed' | 'mempool' | 'future';
export const BUILTINS: readonly Builtin[] = ['settled', 'balance', 'eventually', 'always', 'next', 'pending', 'proposed', 'mempool', 'future'];
export const TEMPORAL: readonly Builtin[] = ['eventually', 'always', 'next'];
export const UNCOMMITTED: readonly Builtin[] = ['pending', 'proposed', 'mempool', 'future'];

export type BinaryOp = 'or' | 'and' | 'until' | '==' | '!=' | '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/';

export type Expr =
  | { readonly kind: 'int'; readonly value: bigint; readonly pos: Pos }
  | { readonly kind: 'bool'; readonly value: boolean; readonly pos: Pos }
  | { readonly kind: 'height' | 'entered'; readonly pos: Pos }
  | { readonly kind: 'name'; readonly name: string; readonly pos: Pos }
  | { readonly kind: 'refState'; readonly ref: string; readonly pos: Pos }
  | { readonly kind: 'call'; readonly fn: Builtin; readonly args: readonly Expr[]; readonly pos: Pos }
  | { readonly kind: 'unary'; readonly op: '-' | 'not'; readonly operand: Expr; readonly pos: Pos }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr; readonly pos: Pos };

export type Type =
  | { readonly kind: 'amount' | 'int' | 'bool' | 'asset' }
  | { readonly kind: 'blocks'; readonly max: bigint };

export interface Decl {
  readonly name: string;
  readonly pos: Pos;
}
export interface Param extends Decl {
  readonly type: Type;
}
export interface Ref extends Decl {
  readonly contract: string;
  readonly contractPos: Pos;
}
/** `currency x`: the name, where it is (`pos`), and where the member's keyword is. */
export interface Currency extends Decl {
  readonly memberPos: Pos;
}
export interface Effect {
  readonly kind: 'escrow' | 'pay';
  readonly pos: Pos;
  readonly amount: Expr;
  readonly party: string;
  readonly partyPos: Pos;
}
export interface Init {
  readonly pos: Pos;
  readonly state: string;
  readonly statePos: Pos;
  readonly effects: readonly Effect[];
}
export type Deadline = { readonly kind: 'int'; readonly value: bigint; readonly pos: Pos } | { readonly kind: 'name'; readonly name: string; readonly pos: Pos };

export type Transition =
  | {
      readonly kind: 'on';
      readonly pos: Pos;
      readonly actor: string;
      readonly actorPos: Pos;
      readonly action: string;
      readonly actionPos: Pos;
      readonly args: readonly Param[];
      readonly guard: Expr | null;
      readonly target: string;
      readonly targetPos: Pos;
      readonly effects: readonly Effect[];
    }
  | {
      readonly kind: 'after';
      readonly pos: Pos;
      readonly deadline: Deadline;
      readonly target: string;
      readonly targetPos: Pos;
      readonly effects: readonly Effect[];
    };

export interface StateBody {
  readonly name: string;
  /** The `state` keyword. */
  readonly pos: Pos;
  readonly namePos: Pos;
  readonly transitions: readonly Transition[];
}

/** A member keyword with its list, kept per occurrence so repeats can be reported. */
export interface Member<T> {
  readonly pos: Pos;
  readonly items: readonly T[];
}

export interface Contract {
  readonly name: string;
  readonly pos: Pos;
  readonly namePos: Pos;
  readonly file: string;
  /** Source text of the whole `contract Name { ... }`, self-contained except for refs. */
  readonly text: string;
  readonly parties: readonly Member<Decl>[];
  readonly params: readonly Member<Param>[];
  readonly refs: readonly Ref[];
  readonly currency: readonly Currency[];
  readonly requires: readonly Expr[];
  readonly horizons: readonly { readonly value: bigint; readonly pos: Pos }[];
  readonly inits: readonly Init[];
  readonly states: readonly StateBody[];
  readonly finals: readonly Member<Decl>[];
}
