/**
 * Validators of one dev chain in this process over a MemoryNet, with in-memory acceptor
 * logs and stores in a temporary directory (test/node/admission.test.ts). The same set-up as
 * test/node/validator.test.ts, for any chain.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeRecord } from '../../consensus/messages.js';
import { recoverDurable, ZERO_DIGEST } from '../../consensus/replica.js';
import type { DevChain } from '../../ledger/devnet.js';
import { LedgerStore } from '../../ledger/store.js';
import { Validator, type ValidatorOptions } from '../../node/validator.js';
import { MemoryNet } from './memory-net.js';

export interface Cluster {
  readonly validators: Validator[];
  readonly leader: number;
  readonly net: MemoryNet;
  readonly fatal: unknown[];
}

/** Opens validator `i` of `chain` (started unless `start` is false). */
export async function openValidator(chain: DevChain, dir: string, i: number, net: MemoryNet, disks: Uint8Array[][], fatal: unknown[], start = true, extra: Partial<ValidatorOptions> = {}): Promise<Validator> {
  const n = chain.genesis.validators.length;
  const store = await LedgerStore.open(join(dir, `v${i}`), chain.genesis);
  const records = disks[i]!;
  const pending: Uint8Array[] = [];
  let seed = 1000 + i * 77 + records.length;
  const v = new Validator({
    genesis: chain.genesis,
    index: i,
    signer: chain.validators[i]!,
    store,
    transport: net.transport(i),
    acceptorLog: {
      append: (r) => pending.push(r),
      persist: async () => {
        const batch = pending.splice(0);
        await sleep(1);
        records.push(...batch);
      },
    },
    durable: recoverDurable(records.map((b) => decodeRecord(b, { replicas: n, valueBytesMax: chain.genesis.limits.block_bytes_max })), 0, ZERO_DIGEST),
    tickMs: 10,
    blockWaitMs: 5,
    random: () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    },
    onFatal: (error) => fatal.push(error),
    ...extra,
  });
  if (start) v.start();
  return v;
}

/**
 * The chain's validators, started, with a leader elected that every follower knows; `run`
 * gets them, then all is closed. `extra` are options for every validator, or per validator.
 * Unless `fatalExpected`, no validator may have reported a fatal error.
 */
export async function withLeader(chain: DevChain, extra: Partial<ValidatorOptions> | ((i: number) => Partial<ValidatorOptions>), run: (cluster: Cluster) => Promise<void>, fatalExpected = false): Promise<void> {
  const n = chain.genesis.validators.length;
  const dir = mkdtempSync(join(tmpdir(), 'stele-admission-'));
  const net = new MemoryNet(n);
  const disks: Uint8Array[][] = Array.from({ length: n }, () => []);
  const fatal: unknown[] = [];
  const validators: Validator[] = [];
  try {
    for (let i = 0; i < n; i++) validators.push(await openValidator(chain, dir, i, net, disks, fatal, true, typeof extra === 'function' ? extra(i) : extra));
    const leaderKnown = (): boolean => {
      const l = validators.findIndex((v) => v.status().role === 'leader');
      return l >= 0 && validators.every((v) => v.status().leader === l);
    };
    for (let t = 0; t < 500 && !leaderKnown(); t++) await sleep(10);
    assert.ok(leaderKnown(), 'a leader was elected and every validator knows it');
    const leader = validators.findIndex((v) => v.status().role === 'leader');
    await run({ validators, leader, net, fatal });
    if (!fatalExpected) assert.deepEqual(fatal, []);
  } finally {
    for (const v of validators) await v.stop();
    for (const v of validators) await v.ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls `condition` every 10 ms for at most `ms`; returns its last value. */
export async function eventually(condition: () => boolean | Promise<boolean>, ms = 5_000): Promise<boolean> {
  for (const end = performance.now() + ms; performance.now() < end; await sleep(10)) if (await condition()) return true;
  return condition();
}
