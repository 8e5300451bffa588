import { toHex } from '../ledger/assert.js';
import { generateKeyPair } from '../ledger/ed25519.js';
import { EXIT_OK, keyFileText, parse, printJson, usage, writeNew } from './io.js';

/** `stele keygen --out FILE [--json] [--force]`: a fresh key pair, the file written 0600. */
export async function keygenCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { out: { type: 'string' }, json: { type: 'boolean' }, force: { type: 'boolean' } }, false, 'keygen');
  if (values.out === undefined) usage('keygen needs --out FILE (the secret never goes to stdout)');
  const pair = generateKeyPair();
  writeNew(values.out, keyFileText(pair), 0o600, values.force === true);
  if (values.json === true) printJson({ public_key: toHex(pair.publicKey), file: values.out });
  else process.stdout.write(`${toHex(pair.publicKey)}\n`);
  return EXIT_OK;
}
