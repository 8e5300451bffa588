/**
 * `stele tx KIND ... --signer KEYFILE --url URL [--wait] [--expiry-in N | --expiry H] [--chain-id ID] [--json]`:
 * builds, signs and submits one transaction through the REST API (api/client.ts).
 *
 *   register --pubkey HEX --name NAME [--role submitter|issuer|admin]...
 *   revoke   --pubkey HEX
 *   transfer --to HEX --amount N --asset SYM
 *   issue    --to HEX --amount N --asset SYM
 *   put      --key KEY (--value TEXT | --value-hex HEX | --blob FILE)
 *   deploy   FILE...
 *   create   --contract NAME [--party NAME=HEX]... [--param NAME=TYPE:VALUE]... [--ref NAME=INSTANCE]...
 *   act      --instance N --party NAME --action NAME [--arg TYPE:VALUE]...
 *
 * TYPE is int, bool or asset. The expiry is the committed height plus `--expiry-in`
 * (default 50 blocks), or the height `--expiry` gives. The transaction's id and expiry go
 * to stderr before it is sent; after a failure that may have left it admitted (a timeout,
 * a dropped connection, a bad answer) they are repeated, and the same arguments with
 * `--expiry` sign the very same transaction again, which the ledger takes once. Exit 0
 * when admitted (or committed with --wait), 1 when the ledger refused it (a TX_* or
 * CONTRACT_* code, printed), 2 for usage, I/O, an unreachable node, an answer that is no
 * judgement of the transaction (401/403, 404, 429, 5xx, a bad answer), or with --wait a
 * wait that ended before the commit (COMMIT_TIMEOUT, the id repeated as after a timeout).
 * Each kind takes its own flags and no others; a flag given twice is refused unless it is
 * one of the repeatable ones (--role, --party of create, --param, --ref, --arg).
 * The signer also signs the requests, for an API in members mode.
 */
import { closeSync, readSync } from 'node:fs';
import { openRegularFile } from '../ledger/files.js';
import { createHash } from 'node:crypto';
import { fromHex, toHex } from '../ledger/assert.js';
import { RECORD_VALUE_BYTES_MAX } from '../ledger/constants.js';
import { errnoText, SteleError } from '../ledger/errors.js';
import { CHAIN_ID_RE, Role, signTx, type ContractValue, type Payload, type Tx, type TxBody } from '../ledger/tx.js';
import type { Signer } from '../ledger/ed25519.js';
import { ApiError, SteleClient } from '../api/client.js';
import { checkNodeUrl } from './chain-source.js';
import { EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, parse, printJson, readKeyFile, readText, usage } from './io.js';

const SOURCE_BYTES_MAX = 64 * 1024;
/** --expiry-in: blocks after the committed height (default and largest). */
const EXPIRY_IN_DEFAULT = 50;
const EXPIRY_IN_MAX = 1_000_000;
/** --expiry: an absolute height of at most 15 digits (below 2^53). */
const EXPIRY_MAX = 999_999_999_999_999;
/** --blob is hashed this many bytes at a time, whatever its size. */
const BLOB_CHUNK_BYTES = 1024 * 1024;

/**
 * SHA-256 of a regular file, read a chunk at a time (a blob anchors files of any size).
 * A directory, device or pipe is refused (/dev/zero would never end), without blocking
 * on a FIFO (ledger/files.ts openRegularFile).
 * @throws SteleError CLI_IO
 */
function sha256OfFile(path: string): Uint8Array {
  const { fd } = openRegularFile(path);
  try {
    const hash = createHash('sha256');
    const chunk = Buffer.allocUnsafe(BLOB_CHUNK_BYTES);
    for (let n = readSync(fd, chunk, 0, chunk.length, null); n > 0; n = readSync(fd, chunk, 0, chunk.length, null)) hash.update(chunk.subarray(0, n));
    return new Uint8Array(hash.digest());
  } catch (error) {
    throw new SteleError('CLI_IO', `cannot read ${path}: ${errnoText(error)}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * The exit code of an error answer (docs/cli.md): 1 when the ledger refused the
 * transaction (TX_*, CONTRACT_*); 2 for everything that never got it judged: a bad or
 * missing answer, 401/403 (not signed, not a member), 404 (not a Stele node at that URL),
 * 429/503 (busy), and server errors.
 */
function exitCodeOf(error: ApiError): number {
  return error.code.startsWith('TX_') || error.code.startsWith('CONTRACT_') ? EXIT_CHECK_FAILED : EXIT_USAGE;
}

function key(value: string | undefined, flag: string): Uint8Array {
  if (value === undefined) usage(`${flag} is required`);
  try {
    return fromHex(value, 32, flag);
  } catch {
    return usage(`${flag} expects a public key: 64 lower-case hex characters`);
  }
}

function amount(value: string | undefined): bigint {
  if (value === undefined || !/^[1-9][0-9]{0,19}$/.test(value)) usage('--amount expects a positive whole number');
  return BigInt(value);
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') usage(`${flag} is required`);
  return value;
}

/** TYPE:VALUE, e.g. int:100, bool:true, asset:USD. */
function contractValue(text: string, flag: string): ContractValue {
  const at = text.indexOf(':');
  const type = text.slice(0, at);
  const raw = text.slice(at + 1);
  if (type === 'int' && /^-?[0-9]{1,100}$/.test(raw)) return { kind: 'int', value: BigInt(raw) };
  if (type === 'bool' && (raw === 'true' || raw === 'false')) return { kind: 'bool', value: raw === 'true' };
  if (type === 'asset' && raw.length > 0) return { kind: 'asset', value: raw };
  return usage(`${flag} expects TYPE:VALUE with TYPE int, bool or asset (got ${JSON.stringify(text)})`);
}

function pair(text: string, flag: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) usage(`${flag} expects NAME=VALUE (got ${JSON.stringify(text)})`);
  return [text.slice(0, at), text.slice(at + 1)];
}

/** A chain id of the fewest characters, for the trial encoding. */
const TRIAL_CHAIN_ID = 'x';

/**
 * The transaction signed. The encoder's bounds (names, symbols, key lengths, amounts) are
 * the arguments', not the network's: CLI_USAGE.
 * @throws SteleError CLI_USAGE
 */
function signed(body: Omit<TxBody, 'signers'>, signer: Signer): Tx {
  try {
    return signTx(body, [signer]);
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) usage(`the transaction cannot be encoded: ${error.message}`);
    throw error;
  }
}

function byName<T extends { name: string }>(items: T[]): T[] {
  return items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

type Flag = { readonly type: 'string' | 'boolean'; readonly multiple?: true };

/** The flags every kind takes. */
const COMMON_FLAGS: Record<string, Flag> = {
  signer: { type: 'string' },
  url: { type: 'string' },
  wait: { type: 'boolean' },
  json: { type: 'boolean' },
  'expiry-in': { type: 'string' },
  expiry: { type: 'string' },
  'chain-id': { type: 'string' },
};

/**
 * Each kind's own flags (docs/cli.md); only `deploy` takes arguments (its FILEs). One table
 * for all kinds let a flag of another kind through unread (`act --param x=int:1`, meant as
 * --arg, sent no argument) and took `act --party buyer --party seller` as buyer (review,
 * 2026-12-01).
 */
const KIND_FLAGS: Record<string, Record<string, Flag>> = {
  register: { pubkey: { type: 'string' }, name: { type: 'string' }, role: { type: 'string', multiple: true } },
  revoke: { pubkey: { type: 'string' } },
  transfer: { to: { type: 'string' }, amount: { type: 'string' }, asset: { type: 'string' } },
  issue: { to: { type: 'string' }, amount: { type: 'string' }, asset: { type: 'string' } },
  put: { key: { type: 'string' }, value: { type: 'string' }, 'value-hex': { type: 'string' }, blob: { type: 'string' } },
  deploy: {},
  create: { contract: { type: 'string' }, party: { type: 'string', multiple: true }, param: { type: 'string', multiple: true }, ref: { type: 'string', multiple: true } },
  act: { instance: { type: 'string' }, party: { type: 'string' }, action: { type: 'string' }, arg: { type: 'string', multiple: true } },
};

/** The flags' values, as KIND_FLAGS types them (`party`: several for create, one for act). */
interface TxFlags {
  signer?: string;
  url?: string;
  wait?: boolean;
  json?: boolean;
  'expiry-in'?: string;
  expiry?: string;
  'chain-id'?: string;
  pubkey?: string;
  name?: string;
  role?: string[];
  to?: string;
  amount?: string;
  asset?: string;
  key?: string;
  value?: string;
  'value-hex'?: string;
  blob?: string;
  contract?: string;
  party?: string[] | string;
  param?: string[];
  ref?: string[];
  instance?: string;
  action?: string;
  arg?: string[];
}

export async function txCommand(args: string[]): Promise<number> {
  const [kind = '', ...rest] = args;
  const kindFlags = Object.hasOwn(KIND_FLAGS, kind) ? KIND_FLAGS[kind] : undefined;
  if (kindFlags === undefined) return usage(`tx expects register, revoke, transfer, issue, put, deploy, create or act (got ${JSON.stringify(kind)})`);
  const parsed = parse(rest, { ...COMMON_FLAGS, ...kindFlags }, kind === 'deploy', `tx ${kind}`);
  // The table parsed is this kind's, whose types TxFlags spells out.
  const values = parsed.values as TxFlags;
  const positionals = parsed.positionals;
  // Checked as audit checks it: a '#fragment' or '?query' would swallow the API's paths.
  const url = checkNodeUrl(required(values.url, '--url'), '--url');
  const signer = readKeyFile(required(values.signer, '--signer'));
  // The signer signs the requests too, for a node whose API runs in members mode. Its
  // signatures name the chain: the client reads the chain id from an unsigned GET
  // /v1/status, which a node that signs reads too (signed_reads) refuses; --chain-id gives
  // it instead (review of the docs, 2026-12-02: `stele tx` could not reach such a node).
  const chainId = values['chain-id'];
  if (chainId !== undefined && !CHAIN_ID_RE.test(chainId)) usage(`--chain-id expects a chain id (1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit; got ${JSON.stringify(chainId.slice(0, 80))})`);
  const client = new SteleClient({ url, signer, ...(chainId === undefined ? {} : { chainId }) });
  let payload: Payload;
  switch (kind) {
    case 'register': {
      let roles = 0;
      for (const r of values.role ?? []) {
        if (r === 'admin' || r === 'issuer') roles |= Role[r];
        else if (r !== 'submitter') usage(`--role expects submitter, issuer or admin (got ${JSON.stringify(r)})`);
      }
      payload = { type: 'register', publicKey: key(values.pubkey, '--pubkey'), name: required(values.name, '--name'), roles };
      break;
    }
    case 'revoke':
      payload = { type: 'revoke', publicKey: key(values.pubkey, '--pubkey') };
      break;
    case 'transfer':
      payload = { type: 'transfer', from: signer.publicKey, to: key(values.to, '--to'), amount: amount(values.amount), asset: required(values.asset, '--asset') };
      break;
    case 'issue':
      payload = { type: 'issue', to: key(values.to, '--to'), amount: amount(values.amount), asset: required(values.asset, '--asset') };
      break;
    case 'put': {
      const recordKey = required(values.key, '--key');
      const given = [values.value, values['value-hex'], values.blob].filter((x) => x !== undefined).length;
      if (given !== 1) usage('put needs exactly one of --value, --value-hex, --blob');
      if (values.blob !== undefined) {
        const digest = sha256OfFile(values.blob);
        payload = { type: 'put', owner: signer.publicKey, key: recordKey, value: { kind: 'sha256', digest } };
      } else {
        let data: Uint8Array;
        if (values.value !== undefined) data = new TextEncoder().encode(values.value);
        else {
          try {
            data = fromHex(values['value-hex'] as string, undefined, '--value-hex');
          } catch {
            return usage('--value-hex expects lower-case hex');
          }
        }
        if (data.length > RECORD_VALUE_BYTES_MAX) usage(`the value is ${data.length} bytes; records hold at most ${RECORD_VALUE_BYTES_MAX} (anchor a larger blob with --blob)`);
        payload = { type: 'put', owner: signer.publicKey, key: recordKey, value: { kind: 'inline', data } };
      }
      break;
    }
    case 'deploy': {
      if (positionals.length === 0) usage('deploy needs the contract source FILE(s)');
      payload = { type: 'deploy', source: positionals.map((f) => readText(f, SOURCE_BYTES_MAX)).join('\n') };
      break;
    }
    case 'create':
      payload = {
        type: 'create',
        contract: required(values.contract, '--contract'),
        parties: byName(((values.party ?? []) as string[]).map((p) => pair(p, '--party')).map(([name, hex]) => ({ name, key: key(hex, `--party ${name}`) }))),
        params: byName((values.param ?? []).map((p) => pair(p, '--param')).map(([name, v]) => ({ name, value: contractValue(v, `--param ${name}`) }))),
        refs: byName(
          (values.ref ?? []).map((p) => pair(p, '--ref')).map(([name, v]) => {
            if (!/^[0-9]{1,15}$/.test(v)) usage(`--ref ${name} expects an instance id`);
            return { name, instance: Number(v) };
          }),
        ),
      };
      break;
    case 'act': {
      const instance = required(values.instance, '--instance');
      if (!/^[0-9]{1,15}$/.test(instance)) usage('--instance expects an instance id');
      payload = {
        type: 'act',
        instance: Number(instance),
        party: required(values.party as string | undefined, '--party'),
        action: required(values.action, '--action'),
        args: (values.arg ?? []).map((a) => contractValue(a, '--arg')),
      };
      break;
    }
    default:
      return usage(`tx expects register, revoke, transfer, issue, put, deploy, create or act (got ${JSON.stringify(kind ?? '')})`);
  }
  if (values.expiry !== undefined && values['expiry-in'] !== undefined) usage('give --expiry or --expiry-in, not both');
  const expiryText = values['expiry-in'] ?? String(EXPIRY_IN_DEFAULT);
  const expiryIn = /^[0-9]{1,7}$/.test(expiryText) ? Number(expiryText) : 0;
  if (expiryIn < 1 || expiryIn > EXPIRY_IN_MAX) usage(`--expiry-in expects a number of blocks, 1..${EXPIRY_IN_MAX} (got ${JSON.stringify(expiryText)})`);
  const expiryAt = values.expiry === undefined ? null : /^[1-9][0-9]{0,14}$/.test(values.expiry) ? Number(values.expiry) : usage(`--expiry expects a block height, 1..${EXPIRY_MAX} (got ${JSON.stringify(values.expiry)})`);
  // A trial before the node is asked anything, so that arguments the encoder refuses (a
  // name or symbol, an amount above 2^64-1, a party named twice) are the usage error they
  // are, not hidden behind a node that is down (review, 2026-12-01). With the shortest
  // chain id: the real one can only make the transaction longer (a size over the limit is
  // then refused when it is signed below), and an expiry is 8 bytes whatever its value.
  signed({ chainId: TRIAL_CHAIN_ID, expiry: expiryAt ?? 1, payload }, signer);
  // Once signed: the transaction every failure from here on is about.
  let sent: { id: string; expiry: number } | null = null;
  try {
    const status = await client.status();
    if (chainId !== undefined && status.chain_id !== chainId) {
      throw new SteleError('CLI_USAGE', `--chain-id ${chainId}, but the node at ${url} runs chain ${status.chain_id}`);
    }
    const expiry = expiryAt ?? status.committed_height + expiryIn;
    const tx = signed({ chainId: status.chain_id, expiry, payload }, signer);
    // Said before it is sent, so a run cut short (a timeout, a dropped connection, Ctrl-C)
    // still tells which transaction to look up, and how to send that very one again: a rerun
    // with --expiry-in reads a new height and makes another transaction, which the ledger
    // would take too (found in review: a retry after a timeout could pay twice).
    sent = { id: toHex(tx.id), expiry };
    process.stderr.write(`transaction ${sent.id}, expiry ${expiry} (to send this same transaction again: --expiry ${expiry})\n`);
    const answer = await client.submit(tx, { wait: values.wait === true });
    if (answer.id !== sent.id) throw new ApiError(answer.status === 'committed' ? 200 : 202, 'CLIENT_BAD_ANSWER', `the node answered about transaction ${answer.id}, not ${sent.id}`);
    if (values.wait === true && answer.status !== 'committed') {
      // 202 pending with wait_timed_out: the node's wait ended first (its timeout, or the
      // node stopping released its waiters). Not the commit --wait promises: exit 2, with
      // the id to look it up (it exited 0 before the review of 2026-12-01).
      throw new ApiError(202, 'COMMIT_TIMEOUT', `the wait ended before transaction ${sent.id} was committed (the node's wait timed out, or the node is stopping); it was admitted and can still be committed until its expiry ${sent.expiry}`);
    }
    if (values.json === true) printJson(answer);
    else if (answer.status === 'committed') process.stdout.write(`committed ${answer.id} at height ${answer.height}, index ${answer.index}\n`);
    else process.stdout.write(`accepted ${answer.id} (pending)\n`);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof SteleError) throw error;
    // Not reached, timed out, the connection dropped, an answer that is none, or a wait that
    // ended without a verdict: the node may have admitted (or may yet commit) the transaction
    // all the same. A judgement of the node (a refusal, 401/403, 404, 429, 503 busy) says it did not.
    const judged = error instanceof ApiError && error.code !== 'CLIENT_BAD_ANSWER' && error.code !== 'COMMIT_TIMEOUT' && (error.status < 500 || error.status === 503);
    const code = error instanceof ApiError ? error.code : 'CLI_IO';
    const exitCode = error instanceof ApiError ? exitCodeOf(error) : EXIT_USAGE;
    const reason = error instanceof ApiError ? error.message : `CLI_IO: cannot reach ${url}: ${(error as Error).message}`;
    // Refused before anything was signed for the chain: a node that signs reads too.
    const hint = error instanceof ApiError && error.code === 'API_UNAUTHENTICATED' && sent === null && chainId === undefined ? '; if the node signs reads too (signed_reads), give its chain id with --chain-id' : '';
    const note =
      sent === null || judged
        ? hint
        : `; transaction ${sent.id} may have been admitted: look it up (GET ${url}/v1/transactions/${sent.id}) or send the same one again with --expiry ${sent.expiry} (the ledger takes an id once)`;
    const transaction = sent === null ? {} : { transaction: { ...sent, may_have_been_admitted: !judged } };
    if (values.json === true) printJson({ ok: false, error: { code, message: reason + note, details: error instanceof ApiError ? error.details : {} }, ...transaction });
    else process.stderr.write(`stele: ${error instanceof ApiError ? `${exitCode === EXIT_CHECK_FAILED ? 'refused' : url}: ` : ''}${reason}${note}\n`);
    return exitCode;
  }
}
