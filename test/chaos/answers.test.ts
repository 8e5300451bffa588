/**
 * How the chaos workload judges answers (test/chaos/answers.ts): which are legitimate
 * under faults, which are final refusals, and which no correct validator gives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '../../api/client.js';
import { judgeAnswer, judgeError } from './answers.js';

const ID = 'ab'.repeat(32);

test('a commit with a height and index is acknowledged; a malformed one is bad', () => {
  assert.deepEqual(judgeAnswer({ id: ID, status: 'committed', height: 5, index: 0 }, ID), { status: 'acknowledged', height: 5, index: 0 });
  for (const answer of [
    { id: ID, status: 'committed' as const },
    { id: ID, status: 'committed' as const, height: 5 },
    { id: ID, status: 'committed' as const, height: 0, index: 0 },
    { id: ID, status: 'committed' as const, height: 5, index: -1 },
    { id: ID, status: 'committed' as const, height: 1.5, index: 0 },
    { id: 'cd'.repeat(32), status: 'committed' as const, height: 5, index: 0 },
    { id: ID, status: 'pending' as const },
  ]) {
    const v = judgeAnswer(answer, ID);
    assert.equal(v.status, 'indeterminate', JSON.stringify(answer));
    assert.ok('bad' in v && typeof v.bad === 'string', JSON.stringify(answer));
  }
  assert.deepEqual(judgeAnswer({ id: ID, status: 'pending', wait_timed_out: true }, ID), { status: 'indeterminate', code: 'WAIT_TIMED_OUT' });
});

test('no answer (timeout, refused or cut connection) is indeterminate and legitimate', () => {
  const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
  assert.deepEqual(judgeError(timeout), { status: 'indeterminate', code: 'TIMEOUT' });
  const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
  assert.deepEqual(judgeError(refused), { status: 'indeterminate', code: 'NET_ECONNREFUSED' });
  const cut = new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { name: 'SocketError', code: 'UND_ERR_SOCKET' }) });
  assert.deepEqual(judgeError(cut), { status: 'indeterminate', code: 'NET_UND_ERR_SOCKET' });
});

test('"not now" codes are legitimate only with their own HTTP status', () => {
  for (const [status, code] of [[503, 'NODE_UNAVAILABLE'], [503, 'MEMPOOL_FULL'], [504, 'COMMIT_TIMEOUT'], [429, 'API_BUSY']] as const) {
    assert.deepEqual(judgeError(new ApiError(status, code, 'x')), { status: 'indeterminate', code });
    const wrong = judgeError(new ApiError(500, code, 'x'));
    assert.ok(wrong.bad !== undefined, `${code} with HTTP 500`);
  }
});

test('API_INTERNAL is left to the harness (full disks); other server errors are bad', () => {
  assert.deepEqual(judgeError(new ApiError(500, 'API_INTERNAL', 'x')), { status: 'indeterminate', code: 'API_INTERNAL', diskFullOnly: true });
  for (const [status, code] of [[500, 'STORE_FULL'], [500, 'STORE_IO'], [502, 'CLIENT_BAD_ANSWER'], [200, 'CLIENT_BAD_ANSWER'], [400, 'API_BAD_REQUEST'], [404, 'API_NOT_FOUND']] as const) {
    const v = judgeError(new ApiError(status, code, 'x'));
    assert.equal(v.status, 'indeterminate');
    assert.ok(v.bad !== undefined, `${status} ${code}`);
  }
  const thrown = judgeError(new RangeError('a bug in the client'));
  assert.equal(thrown.code, 'EXCEPTION_RangeError');
  assert.ok(thrown.bad !== undefined);
});

test('refusals: the expected codes are final and keep their place; others are bad', () => {
  assert.deepEqual(judgeError(new ApiError(422, 'TX_INSUFFICIENT_BALANCE', 'x', { height: 9, index: 2 })), { status: 'refused', code: 'TX_INSUFFICIENT_BALANCE', height: 9, index: 2 });
  assert.deepEqual(judgeError(new ApiError(422, 'TX_INSUFFICIENT_BALANCE', 'x')), { status: 'refused', code: 'TX_INSUFFICIENT_BALANCE' });
  assert.deepEqual(judgeError(new ApiError(422, 'TX_EXPIRY_TOO_FAR', 'x')), { status: 'refused', code: 'TX_EXPIRY_TOO_FAR' });
  assert.deepEqual(judgeError(new ApiError(422, 'TX_EXPIRED', 'x')), { status: 'refused', code: 'TX_EXPIRED' });
  // A place needs both a height and an index.
  assert.deepEqual(judgeError(new ApiError(422, 'TX_INSUFFICIENT_BALANCE', 'x', { height: 9 })), { status: 'refused', code: 'TX_INSUFFICIENT_BALANCE' });
  for (const [status, code] of [[409, 'TX_DUPLICATE'], [403, 'TX_BAD_SIGNATURE'], [400, 'TX_INSUFFICIENT_BALANCE']] as const) {
    const v = judgeError(new ApiError(status, code, 'x'));
    assert.equal(v.status, 'refused');
    assert.ok(v.bad !== undefined, `${status} ${code}`);
  }
});
