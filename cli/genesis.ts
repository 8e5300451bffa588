import { REPLICAS_MAX } from '../consensus/replica.js';
import { toHex } from '../ledger/assert.js';
import { GENESIS_FILE_BYTES_MAX } from '../ledger/constants.js';
import { genesisToJson, parseGenesis, parseGenesisText, quorumSize, undialable } from '../ledger/genesis.js';
import { EXIT_OK, parse, printJson, publicKeyArg, readText, usage, writeNew } from './io.js';

/** `stele genesis new|check ...` */
export async function genesisCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'new') return genesisNew(rest);
  if (sub === 'check') return genesisCheck(rest);
  return usage('genesis needs a subcommand: new or check');
}

function split(value: string, parts: number, flag: string, shape: string): string[] {
  const out = value.split(',');
  if (out.length !== parts || out.some((p) => p.length === 0)) usage(`${flag} expects ${shape}, got ${JSON.stringify(value)}`);
  return out;
}

async function genesisNew(args: string[]): Promise<number> {
  const { values } = parse(args, {
    'chain-id': { type: 'string' },
    validator: { type: 'string', multiple: true },
    admin: { type: 'string', multiple: true },
    asset: { type: 'string', multiple: true },
    supply: { type: 'string' },
    'time-ms': { type: 'string' },
    out: { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
  }, false, 'genesis new');
  if (values['chain-id'] === undefined || values.out === undefined) usage('genesis new needs --chain-id and --out');
  const validators = (values.validator ?? []).map((v) => {
    const [id, key, address] = split(v, 3, '--validator', 'ID,KEY,HOST:PORT') as [string, string, string];
    return { id, public_key: publicKeyArg(key), address };
  });
  const admins = (values.admin ?? []).map((a) => {
    const [name, key] = split(a, 2, '--admin', 'NAME,KEY') as [string, string];
    return { name, public_key: publicKeyArg(key), roles: ['admin', 'issuer'] };
  });
  if (validators.length === 0 || admins.length === 0) usage('genesis new needs at least one --validator and one --admin');
  if (validators.length > REPLICAS_MAX) usage(`genesis new: at most ${REPLICAS_MAX} --validator (a node runs with 1 to ${REPLICAS_MAX} validators)`);
  const issuer = (admins[0] as { public_key: string }).public_key;
  const assets = (values.asset ?? []).map((symbol) => ({ symbol, issuer }));
  const supply = values.supply;
  if (supply !== undefined && assets.length === 0) usage('--supply needs --asset');
  const timeText = values['time-ms'];
  // Digits only: Number() would take '', ' 5 ', '0x10' and '1e3' too. The range is parseGenesis's.
  if (timeText !== undefined && !/^[0-9]{1,16}$/.test(timeText)) usage(`--time-ms expects milliseconds since 1970 in decimal digits (got ${JSON.stringify(timeText)})`);
  const timeMs = timeText === undefined ? Date.now() : Number(timeText);
  const json = {
    stele_genesis: 1,
    chain_id: values['chain-id'],
    genesis_time_ms: timeMs,
    validators,
    identities: admins,
    assets,
    balances: supply === undefined ? [] : assets.map((a) => ({ public_key: issuer, asset: a.symbol, amount: supply })),
  };
  const genesis = parseGenesis(json); // validates everything before writing
  const cutOff = undialable(genesis);
  if (cutOff.length > 0) usage(`genesis new: --validator ${genesis.validators[cutOff[0] as number]?.id}: port 0 (any free port) only for a lone validator: its peers dial this address`);
  writeNew(values.out, `${JSON.stringify(genesisToJson(genesis), null, 2)}\n`, 0o644, values.force === true);
  if (values.json === true) printJson({ file: values.out, genesis_hash: toHex(genesis.hash) });
  else process.stdout.write(`${toHex(genesis.hash)}\n`);
  return EXIT_OK;
}

async function genesisCheck(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } }, true, 'genesis check');
  const [file] = positionals;
  if (file === undefined || positionals.length !== 1) usage('genesis check needs exactly one FILE');
  const g = parseGenesisText(readText(file, GENESIS_FILE_BYTES_MAX));
  const summary = {
    ok: true,
    chain_id: g.chainId,
    genesis_hash: toHex(g.hash),
    validators: g.validators.map((v) => ({ id: v.id, public_key: toHex(v.publicKey), address: v.address })),
    quorum: quorumSize(g),
    // The encoding allows up to 16 validators; a node runs with at most REPLICAS_MAX, and
    // not as a validator with peers whose address has port 0 (undialable).
    runnable: g.validators.length <= REPLICAS_MAX && undialable(g).length === 0,
    identities: g.identities.length,
    assets: g.assets.map((a) => a.symbol),
    limits: g.limits,
  };
  if (values.json === true) printJson(summary);
  else {
    process.stdout.write(`${g.chainId} ${summary.genesis_hash}\n`);
    process.stderr.write(`${g.validators.length} validators (quorum ${summary.quorum}), ${g.identities.length} identities, assets: ${summary.assets.join(', ') || 'none'}\n`);
    if (g.validators.length > REPLICAS_MAX) process.stderr.write(`warning: a node runs with 1 to ${REPLICAS_MAX} validators; \`stele node\` refuses this genesis (CONFIG_INVALID)\n`);
    for (const i of undialable(g)) process.stderr.write(`warning: validator ${g.validators[i]?.id} has port 0 (any free port), which its peers cannot dial; \`stele node\` refuses to run as it (CONFIG_INVALID)\n`);
  }
  return EXIT_OK;
}
