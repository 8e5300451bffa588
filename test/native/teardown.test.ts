import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { addon } from '../../native/addon.js';
import { MappedLog } from '../../native/mapped-log.js';

test('native: a worker terminated with an open log and transport (each backend) tears down cleanly (cleanup hooks)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-teardown-'));
  const backends = addon().fabric ? ['tcp', 'fabric', 'tcp', 'fabric'] : ['tcp', 'tcp', 'tcp'];
  for (let round = 0; round < backends.length; round++) {
    const workerData = { dir: join(dir, `log-${round}`), backend: backends[round] };
    const worker = new Worker(new URL('../support/native-worker.js', import.meta.url), { workerData });
    const report = await new Promise<{ records: number; port: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    assert.equal(report.records, 100);
    assert.ok(report.port > 0);
    const code = await worker.terminate();
    assert.equal(code, 1); // terminated, not crashed
    // The log written by the terminated worker reopens whole: appends reached the mapping.
    const log = MappedLog.open(join(dir, `log-${round}`), { segmentBytes: 1 << 20 });
    assert.equal(log.length, 100);
    assert.deepEqual(log.read(99), new Uint8Array(1000).fill(99));
    await log.close();
  }
  rmSync(dir, { recursive: true });
});
