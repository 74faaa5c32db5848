import assert from 'node:assert/strict';
import { test } from 'node:test';
import { murmur2, partitionForKey } from '../src/index.js';

test('C01 murmur2 vectors', () => {
  const vectors: [string, number][] = [
    ['21', -973932308], ['foobar', -790332482], ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829], ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107], ['1', -1993445489], ['12345', -1188365604],
  ];
  for (const [key, want] of vectors) assert.equal(murmur2(Buffer.from(key)), want, key);
  assert.equal(partitionForKey('21', 16), 12);
  assert.equal(partitionForKey('foobar', 16), 14);
  assert.equal(partitionForKey('abc', 16), 11);
  for (let n = 1; n < 50; n++) {
    const p = partitionForKey('some-key', n);
    assert.ok(p >= 0 && p < n);
  }
});
