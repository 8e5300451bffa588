/**
 * Remembers the votes this replica signed for recent slots, so that checking a certificate
 * that carries one of them costs a comparison instead of an Ed25519 verification (about
 * 130 us on the machines measured, on the commit path of every follower whose vote made
 * the quorum). Sound because Ed25519 signing is deterministic: our vote for (slot, value)
 * is exactly the signature we made, so a certificate entry from us that equals it, for
 * the same slot and the same value bytes, is one that verification would accept. Anything
 * else (another value, another signature, a slot forgotten) is verified as before.
 *
 * A wrapper around the `sign` and `verifyVote` the driver injects into the core; the core
 * itself is unchanged.
 *
 * The value is remembered through a WeakRef: the core checks a certificate against the
 * very array it accepted (and signed), so the shortcut works while the core still holds
 * it, and nothing here keeps a value alive. Holding the values themselves pinned 256
 * blocks, each a view into the transport's batch buffer of up to 4 MiB: about 150 MiB
 * per validator after a million transactions (docs/performance.md). The shortcut relies
 * on delivered bytes never changing, which the core already assumes of what it holds.
 */
import { bytesEqual, invariant } from '../ledger/assert.js';
import type { ReplicaConfig } from './replica.js';

type Sign = ReplicaConfig['sign'];
type VerifyVote = ReplicaConfig['verifyVote'];

/** Slots remembered: the pipeline window and the catch-up chunks are far below this. */
const REMEMBERED_SLOTS = 256;

export function rememberOwnVotes(self: number, sign: Sign, verifyVote: VerifyVote): { sign: Sign; verifyVote: VerifyVote } {
  invariant(Number.isInteger(self) && self >= 0, 'own index');
  const own = new Map<number, { value: WeakRef<Uint8Array>; signature: Uint8Array }>();
  return {
    sign: (slot, value) => {
      const signature = sign(slot, value);
      own.delete(slot); // re-inserted as the newest
      own.set(slot, { value: new WeakRef(value), signature });
      if (own.size > REMEMBERED_SLOTS) own.delete(own.keys().next().value as number);
      return signature;
    },
    verifyVote: (validator, slot, value, signature) => {
      if (validator === self) {
        const mine = own.get(slot);
        const signed = mine?.value.deref();
        if (signed !== undefined && bytesEqual(mine!.signature, signature) && bytesEqual(signed, value)) return true;
      }
      return verifyVote(validator, slot, value, signature);
    },
  };
}
