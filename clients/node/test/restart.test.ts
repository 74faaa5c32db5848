// Scenarios that stop and restart the server on the same port and data dir.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Admin, Consumer, Producer, type ConsumedRecord, type RecordMetadata } from '../src/index.js';
import { TestServer, uniqueTopic, waitFor } from './server.js';

const server = new TestServer();
let admin: Admin;

before(async () => {
  await server.start();
  admin = new Admin(server.target);
});
after(async () => {
  admin?.close();
  await server.destroy();
});

describe('restart', () => {
  test('C09 producer reconnect after restart', async () => {
    const topic = uniqueTopic('c09');
    await admin.createTopic(topic, { partitions: 2 });
    const producer = new Producer(server.target, { retryBackoffMaxMs: 500 });
    const before = await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send({ topic, key: `k${i}`, value: `a${i}` })));
    await server.stop();
    const during: Promise<RecordMetadata>[] = Array.from({ length: 10 }, (_, i) => producer.send({ topic, key: `k${i}`, value: `b${i}` }));
    await server.start();
    const after = await Promise.all([...during, ...Array.from({ length: 10 }, (_, i) => producer.send({ topic, key: `k${i}`, value: `c${i}` }))]);
    await producer.close();
    const all = [...before, ...after];
    for (const p of [0, 1]) {
      const offs = all.filter((m) => m.partition === p).map((m) => m.offset);
      for (let i = 1; i < offs.length; i++) assert.ok(offs[i]! > offs[i - 1]!, `partition ${p} offsets increase`);
    }
    // C16 (second half): retried sends across the restart left no duplicates in the log.
    const ends = await admin.listOffsets(topic, 'latest');
    assert.equal(ends.reduce((n, p) => n + p.offset, 0), 30);
  });

  test('C10 consumer reconnect after restart', async () => {
    const topic = uniqueTopic('c10');
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer(server.target);
    await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send({ topic, value: `a${i}`, partition: 0 })));
    await producer.close();
    const consumer = new Consumer(server.target, { reconnectBackoffMaxMs: 500 });
    consumer.assign([{ topic, partition: 0, position: 'earliest' }]);
    const got: ConsumedRecord[] = [];
    const reading = (async () => {
      for await (const r of consumer) {
        got.push(r);
        if (got.length === 20) break;
      }
    })();
    await waitFor(() => got.length === 10, 10_000, 'first 10');
    await server.restart();
    const p2 = new Producer(server.target);
    await Promise.all(Array.from({ length: 10 }, (_, i) => p2.send({ topic, value: `b${i}`, partition: 0 })));
    await p2.close();
    const timer = setTimeout(() => void consumer.close(), 20_000);
    await reading;
    clearTimeout(timer);
    await consumer.close();
    assert.deepEqual(got.map((r) => r.offset), [...Array(20).keys()]);
    assert.deepEqual(got.map((r) => r.value.toString()),
      [...Array.from({ length: 10 }, (_, i) => `a${i}`), ...Array.from({ length: 10 }, (_, i) => `b${i}`)]);
  });
});
