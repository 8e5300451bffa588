/**
 * Hostile values every decoder test loops over (in the spirit of noble's shared list):
 * wrong types, fake byte arrays, huge and odd-shaped buffers.
 */
export const HOSTILE_VALUES: unknown[] = [
  undefined,
  null,
  0,
  NaN,
  Infinity,
  -1,
  2 ** 64,
  1n,
  'deadbeef',
  {},
  [],
  [1, 2, 3],
  { length: 10 },
  new Uint16Array(4),
  new ArrayBuffer(8),
  Buffer.alloc(0),
  new Proxy(new Uint8Array(4), {}),
  Object.create(Uint8Array.prototype),
];

/** Byte strings that are structurally nasty for a length-prefixed decoder. */
export function hostileBytes(): Uint8Array[] {
  const out: Uint8Array[] = [new Uint8Array(0), Uint8Array.of(1), Uint8Array.of(1, 2), Uint8Array.of(2, 1)];
  // A valid envelope followed by a huge length prefix.
  for (const kind of [1, 2, 3, 4, 7, 8]) out.push(Uint8Array.of(1, kind, 0xff, 0xff, 0xff, 0xff, 0, 0));
  out.push(new Uint8Array(64).fill(0xff));
  out.push(new Uint8Array(64).fill(0));
  return out;
}
