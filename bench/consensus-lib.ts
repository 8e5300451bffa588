/**
 * Shared by the consensus peer process (bench/consensus-peer.ts), the three-process crash
 * test and bench:consensus: the cluster description, the batch format of a slot's value
 * (u32 count, then u32-length-prefixed client values), and the committed-log reader.
 */
import { join } from 'node:path';
import { MappedLog } from '../native/mapped-log.js';
import type { Vote } from '../consensus/messages.js';

export interface ClusterSpec {
  readonly seeds: readonly string[]; // hex seeds of each replica's key (test keys only)
  readonly ports: readonly number[];
  readonly tickMs: number;
  /** Send each committed slot's client values to the parent (tests; not the benchmark). */
  readonly reportValues?: boolean;
}

/** Batches client values into one slot value. */
export function encodeBatch(values: readonly Uint8Array[]): Uint8Array {
  let size = 4;
  for (const v of values) size += 4 + v.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, values.length);
  let at = 4;
  for (const v of values) {
    view.setUint32(at, v.length);
    out.set(v, at + 4);
    at += 4 + v.length;
  }
  return out;
}

export function decodeBatch(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0);
  const out: Uint8Array[] = [];
  let at = 4;
  for (let i = 0; i < n; i++) {
    const length = view.getUint32(at);
    out.push(bytes.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return out;
}

/** A committed-log record: u64 slot, u16 vote count, votes (u16 validator, u16 length, signature), value. */
export function committedRecord(slot: number, value: Uint8Array, certificate: readonly Vote[]): Uint8Array {
  let size = 10 + value.length;
  for (const v of certificate) size += 4 + v.signature.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(slot));
  view.setUint16(8, certificate.length);
  let at = 10;
  for (const v of certificate) {
    view.setUint16(at, v.validator);
    view.setUint16(at + 2, v.signature.length);
    out.set(v.signature, at + 4);
    at += 4 + v.signature.length;
  }
  out.set(value, at);
  return out;
}

export function parseCommittedRecord(r: Uint8Array): { slot: number; value: Uint8Array; certificate: Vote[] } {
  const view = new DataView(r.buffer, r.byteOffset, r.byteLength);
  const slot = Number(view.getBigUint64(0));
  const n = view.getUint16(8);
  const certificate: Vote[] = [];
  let at = 10;
  for (let i = 0; i < n; i++) {
    const length = view.getUint16(at + 2);
    certificate.push({ validator: view.getUint16(at), signature: Uint8Array.from(r.subarray(at + 4, at + 4 + length)) });
    at += 4 + length;
  }
  return { slot, value: Uint8Array.from(r.subarray(at)), certificate };
}

export function readCommittedLog(dir: string): Array<{ slot: number; value: Uint8Array }> {
  const log = MappedLog.open(join(dir, 'committed'));
  const out: Array<{ slot: number; value: Uint8Array }> = [];
  for (let i = 0; i < log.length; i++) {
    const { slot, value } = parseCommittedRecord(log.read(i));
    out.push({ slot, value });
  }
  void log.close();
  return out;
}

