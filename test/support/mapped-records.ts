/** Record i of the crash tests: a length and content that are a function of i alone. */
export function expectedRecord(index: number): Uint8Array {
  const length = 4 + ((index * 7919) % 3000);
  const out = new Uint8Array(length);
  new DataView(out.buffer).setUint32(0, index);
  for (let j = 4; j < length; j++) out[j] = (index * 31 + j) & 0xff;
  return out;
}
