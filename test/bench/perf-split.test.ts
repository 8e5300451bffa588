import { test } from 'node:test';
import assert from 'node:assert/strict';
import { innermostJs, kindOf, parsePerfScript } from '../../bench/perf-split.js';

const SCRIPT = [
  ' 9155 ',
  '\t         1dbf23f fe_mul (/usr/bin/node)',
  '\t         1dbf6d9 ossl_ed25519_verify (/usr/bin/node)',
  '\t    7f00000012 JS:*verifyOneShot node:internal/crypto/sig:234:23 (/tmp/perf-9155.map)',
  '',
  ' 9155 ',
  '\t    7f00000034 JS:*get file:///work/main/dist/ledger/state.js:127:8 (/tmp/perf-9155.map)',
  '\t    7f00000056 JS:^commitMany file:///work/main/dist/ledger/store.js:243:21 (/tmp/perf-9155.map)',
  '',
  ' 9177 ',
  '\t         1dbf3b3 v8::internal::compiler::GraphReducer::ReduceTop (/usr/bin/node)',
  '',
  ' 9160 ',
  '\tffffffff8123 __x64_sys_msync ([kernel.kallsyms])',
  '\tffffffff8456 do_syscall_64 ([kernel.kallsyms])',
  ' 0 ',
  '\tffffffff8789 default_idle ([kernel.kallsyms])',
].join('\n');

test('perf-split: samples parse with their thread and innermost-first frames, and each gets a kind of work', () => {
  const samples = parsePerfScript(SCRIPT);
  assert.deepEqual(
    samples.map((s) => [s.tid, s.frames.length]),
    [
      ['9155', 3],
      ['9155', 2],
      ['9177', 1],
      ['9160', 2],
      ['0', 1],
    ],
  );
  assert.deepEqual(
    samples.map((s) => kindOf(s.frames)),
    ['Ed25519 verify', 'JavaScript and V8 runtime', 'JIT compiler', 'kernel: msync', 'kernel: other'],
  );
  assert.equal(innermostJs(samples[0]!.frames), 'verifyOneShot node:internal/crypto/sig:234:23');
  assert.equal(innermostJs(samples[1]!.frames), 'get ledger/state.js:127:8');
  assert.equal(innermostJs(samples[2]!.frames), null);
});
