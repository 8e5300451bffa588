import { writeFileSync } from 'node:fs';
import { computeVectors } from './vectors.js';

const path = new URL('../../../test/vectors/ledger-v1.json', import.meta.url);
writeFileSync(path, `${JSON.stringify(computeVectors(), null, 1)}\n`);
process.stdout.write(`wrote ${path.pathname}\n`);
