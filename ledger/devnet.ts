/**
 * Development chains: deterministic keys, a genesis, and a single-process block producer
 * that plays every validator (proposer signature and a full quorum certificate). Used by
 * `stele demo`, the tests and the benchmarks; the real node orders blocks with Paxos.
 */
import { keyPairFromSeed, Signer } from './ed25519.js';
import { parseGenesis, quorumSize, type Genesis } from './genesis.js';
import { sha256 } from './hash.js';
import { buildBlock, signVote, withCertificate, type Block } from './block.js';
import { BlockBuilder, type ApplyOptions, type TxFailure } from './machine.js';
import type { ChainTip } from './chain.js';
import type { StateReader } from './state.js';
import type { Tx } from './tx.js';
import { toHex } from './assert.js';

/** A signer whose seed is SHA-256 of a label: reproducible, never for real use. */
export function devSigner(label: string): Signer {
  return new Signer(keyPairFromSeed(sha256(new TextEncoder().encode(`stele-dev:${label}`))));
}

export interface DevChain {
  readonly genesis: Genesis;
  readonly validators: readonly Signer[];
  /** users[0] is the admin and issuer of every asset. */
  readonly users: readonly Signer[];
}

export interface DevOptions {
  readonly chainId?: string;
  readonly validators?: number;
  readonly users?: number;
  readonly assets?: readonly string[];
  readonly balance?: bigint;
  readonly basePort?: number;
  readonly limits?: Record<string, number>;
  readonly label?: string;
}

export function devChain(options: DevOptions = {}): DevChain {
  const label = options.label ?? 'default';
  const validators = Array.from({ length: options.validators ?? 3 }, (_, i) => devSigner(`${label}:validator:${i}`));
  const users = Array.from({ length: Math.max(1, options.users ?? 4) }, (_, i) => devSigner(`${label}:user:${i}`));
  const assets = options.assets ?? ['STL'];
  const balance = options.balance ?? 1_000_000n;
  const basePort = options.basePort ?? 7100;
  const genesis = parseGenesis({
    stele_genesis: 1,
    chain_id: options.chainId ?? 'stele-dev',
    genesis_time_ms: 1_764_000_000_000,
    validators: validators.map((v, i) => ({ id: `v${i + 1}`, public_key: toHex(v.publicKey), address: `127.0.0.1:${basePort + i}` })),
    identities: users.map((u, i) => ({ name: i === 0 ? 'admin' : `user${i}`, public_key: toHex(u.publicKey), roles: i === 0 ? ['admin', 'issuer'] : [] })),
    assets: assets.map((symbol) => ({ symbol, issuer: toHex((users[0] as Signer).publicKey) })),
    balances: users.flatMap((u) => assets.map((asset) => ({ public_key: toHex(u.publicKey), asset, amount: balance.toString() }))),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  return { genesis, validators, users };
}

/**
 * Builds the next block over `tip`/`state` from `txs` (refused ones are left out and
 * returned; failed ones are in the block, listed in `failed`), signed by validator
 * `proposer`, certified by a majority.
 */
export function produceBlock(
  chain: DevChain,
  tip: ChainTip,
  state: StateReader,
  txs: readonly Tx[],
  options: { proposer?: number; timeMs?: number; apply?: ApplyOptions } = {},
): { block: Block; refused: Array<{ tx: Tx; code: string }>; failed: readonly TxFailure[] } {
  const proposer = options.proposer ?? 0;
  const height = tip.height + 1;
  const builder = new BlockBuilder(chain.genesis, state, height, options.apply);
  const refused: Array<{ tx: Tx; code: string }> = [];
  for (const tx of txs) {
    const offered = builder.offer(tx);
    if (offered.kind === 'refused') refused.push({ tx, code: offered.refusal.code });
  }
  const sealed = builder.seal(tip.stateHash);
  const signer = chain.validators[proposer] as Signer;
  const block = buildBlock(
    {
      chainId: chain.genesis.chainId,
      height,
      prevHash: tip.hash,
      stateHash: sealed.stateHash,
      timeMs: Math.max(tip.timeMs, options.timeMs ?? tip.timeMs + 1000),
      proposer,
      ballot: { round: 1, leader: proposer },
    },
    builder.txs,
    signer,
  );
  const votes = chain.validators.slice(0, quorumSize(chain.genesis)).map((v, i) => signVote(v, i, block));
  return { block: withCertificate(block, votes), refused, failed: sealed.failed };
}
