/**
 * Validator addresses: genesis (`stele genesis new`) and the node configuration's `listen`
 * accept exactly the "host:port" the validator transport takes (ledger/genesis.ts hostPort
 * reproduces native/transport.ts parseAddress, which is not exported), so an address is
 * refused when the file is checked rather than when the transport opens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addon } from '../../native/addon.js';
import { Transport } from '../../native/transport.js';
import { generateKeyPair, Signer } from '../../ledger/ed25519.js';
import { genesisToJson, hostPort, parseGenesis } from '../../ledger/genesis.js';
import { isSteleError } from '../../ledger/errors.js';
import { parseNodeConfig } from '../../node/config.js';
import { chain } from '../support/fixtures.js';

/** Each address, and whether the transport takes it. */
const CASES: ReadonlyArray<[string, boolean]> = [
  ['127.0.0.1:7100', true],
  ['127.0.0.1:0', true],
  ['0.0.0.0:1', true],
  ['localhost:65535', true],
  ['node-1.example.com:8080', true],
  ['10.0.0.3:07100', true],
  ['127.0.0.1:65536', false],
  ['127.0.0.1:99999', false],
  ['127.0.0.1:123456', false],
  ['[::1]:7100', false],
  ['::1:7100', false],
  ['[fe80::1]:7100', false],
  ['127.0.0.1', false],
  ['127.0.0.1:', false],
  [':7100', false],
  ['host name:7100', false],
  ['a_b:7100', false],
  ['127.0.0.1:-1', false],
  ['127.0.0.1:+80', false],
  ['127.0.0.1:0x50', false],
  [' 127.0.0.1:7100', false],
  ['127.0.0.1:7100 ', false],
  ['', false],
];

function genesisAccepts(address: string): boolean {
  const json = genesisToJson(chain.genesis) as { validators: Array<{ address: string }> };
  json.validators[0]!.address = address;
  try {
    parseGenesis(json);
    return true;
  } catch (error) {
    assert.ok(isSteleError(error, 'GENESIS_INVALID') && /validators\[0\]\.address/.test(error.message), String(error));
    return false;
  }
}

function listenAccepts(address: string): boolean {
  try {
    parseNodeConfig(JSON.stringify({ stele_node: 1, genesis: 'g', key: 'k', data: 'd', listen: address }), '/');
    return true;
  } catch (error) {
    assert.ok(isSteleError(error, 'CONFIG_INVALID') && error.details.field === 'listen', String(error));
    return false;
  }
}

/** Whether the transport parses `address`, without opening anything: a bad peer address after it stops the open. */
async function transportAccepts(address: string): Promise<boolean> {
  const [a, b] = [generateKeyPair(), generateKeyPair()];
  const validators = [
    { publicKey: a.publicKey, address: 'not an address' },
    { publicKey: b.publicKey, address: '127.0.0.1:1' },
  ];
  try {
    await Transport.open({ self: 0, signer: new Signer(a), validators, listen: address, onMessages: () => {} });
  } catch (error) {
    assert.ok(isSteleError(error, 'TRANSPORT_CONFIG'), String(error));
    if (/^TRANSPORT_CONFIG: listen:/.test(error.message)) return false;
    if (/^TRANSPORT_CONFIG: validator 0 address:/.test(error.message)) return true;
    throw error;
  }
  throw new Error('the transport opened with a bad peer address');
}

test('genesis and node config take the addresses the transport takes, and refuse the others', async (t) => {
  for (const [address, takes] of CASES) {
    assert.equal(hostPort(address) !== null, takes, address);
    // Port 0 still reads in a genesis (an existing chain stays auditable from it); genesis
    // new and the node refuse it with peers (undialable; test/cli/cli.test.ts, run.test.ts).
    assert.equal(genesisAccepts(address), takes, `genesis: ${address}`);
    assert.equal(listenAccepts(address), takes, `listen: ${address}`);
  }
  try {
    addon();
  } catch {
    t.skip('the native addon is not built: the transport side is not checked');
    return;
  }
  for (const [address, takes] of CASES) assert.equal(await transportAccepts(address), takes, `transport: ${address}`);
});
