// Conformance scenarios (clients/CONFORMANCE.md) against one real herald-server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Metadata } from '@grpc/grpc-js';
import {
  Admin, Code, Consumer, HeraldError, Producer, partitionForKey, connect,
  type ConsumedRecord, type RecordMetadata, type TopicPartition,
} from '../src/index.js';
import type { ProduceRequest, ProduceResponse } from '../src/gen/herald/v1/broker.js';
import { TestServer, uniqueTopic, waitFor } from './server.js';

const server = new TestServer([
  '--group_min_session_timeout_ms=100', '--group_revoke_timeout_ms=5000', '--group_tick_interval_ms=20',
]);
let admin: Admin;

before(async () => {
  await server.start();
  admin = new Admin(server.target);
});
after(async () => {
  admin?.close();
  await server.destroy();
});

async function readN(consumer: Consumer, n: number, timeoutMs = 15_000): Promise<ConsumedRecord[]> {
  const out: ConsumedRecord[] = [];
  const timer = setTimeout(() => void consumer.close(), timeoutMs);
  for await (const rec of consumer) {
    out.push(rec);
    if (out.length >= n) break;
  }
  clearTimeout(timer);
  return out;
}

async function expectCode(p: Promise<unknown>, code: number): Promise<HeraldError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof HeraldError, `not a HeraldError: ${String(e)}`);
    assert.equal(e.code, code, `code ${e.codeName}: ${e.message}`);
    return e;
  }
  assert.fail(`expected code ${Code[code]}`);
}

/** Sends raw ProduceRequests on one stream and collects the responses. */
function rawProduce(target: string, reqs: ProduceRequest[]): Promise<ProduceResponse[]> {
  const clients = connect(target);
  const call = clients.broker.produce(new Metadata());
  const out: ProduceResponse[] = [];
  return new Promise((resolve, reject) => {
    call.on('data', (r: ProduceResponse) => {
      out.push(r);
      if (out.length === reqs.length) {
        call.end();
        clients.close();
        resolve(out);
      }
    });
    call.on('error', reject);
    for (const r of reqs) call.write(r);
  });
}

describe('conformance', () => {
  test('C02 round trip headers keys', async () => {
    const topic = uniqueTopic('c02');
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer(server.target);
    const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => producer.send({
      topic, key: `k${i}`, value: Buffer.from([i, 0, 255, i]),
      headers: [{ key: 'h', value: 'a' }, { key: 'h', value: Buffer.from([0, 1]) }, { key: 'idx', value: String(i) }],
    })));
    await producer.close();
    for (let i = 1; i < sent.length; i++) assert.equal(sent[i]!.offset, sent[i - 1]!.offset + 1);
    const consumer = new Consumer(server.target);
    consumer.assign([{ topic, partition: 0, position: 'earliest' }]);
    const got = await readN(consumer, 20);
    await consumer.close();
    got.forEach((r, i) => {
      assert.equal(r.offset, sent[i]!.offset);
      assert.equal(r.key.toString(), `k${i}`);
      assert.deepEqual([...r.value], [i, 0, 255, i]);
      assert.deepEqual(r.headers.map((h) => [h.key, [...h.value]]),
        [['h', [...Buffer.from('a')]], ['h', [0, 1]], ['idx', [...Buffer.from(String(i))]]]);
    });
  });

  test('C03 same key same partition', async () => {
    const topic = uniqueTopic('c03');
    await admin.createTopic(topic, { partitions: 16 });
    const want: Record<string, number> = { '21': 12, foobar: 14, abc: 11 };
    const producer = new Producer(server.target);
    for (const [key, p] of Object.entries(want)) {
      assert.equal(partitionForKey(key, 16), p);
      const metas = await Promise.all([1, 2, 3].map(() => producer.send({ topic, key, value: 'v' })));
      for (const m of metas) assert.equal(m.partition, p, `producer placed ${key}`);
    }
    await producer.close();
    const raw = await rawProduce(server.target, Object.keys(want).map((key, i) => ({
      requestId: i + 1, topic, batch: { records: [{ key: Buffer.from(key), value: Buffer.from('x'), headers: [], timestampMs: 0 }] },
      acks: 3, producerId: 0, producerEpoch: 0, baseSequence: 0,
    })));
    for (const r of raw) {
      assert.ok(!r.error || r.error.code === 0, r.error?.message);
      assert.equal(r.partition, Object.values(want)[r.requestId - 1], 'broker placed key');
    }
  });

  test('C04 commit and resume', async () => {
    const topic = uniqueTopic('c04');
    const group = uniqueTopic('g04');
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer(server.target);
    await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send({ topic, value: `v${i}`, partition: 0 })));
    await producer.close();
    const c1 = new Consumer(server.target, { group, autoCommit: false });
    c1.assign([{ topic, partition: 0, position: 'earliest' }]);
    const first = await readN(c1, 4);
    await c1.next(); // marks record 3 processed; hands out record 4 (not processed)
    await c1.commit();
    await c1.close();
    assert.deepEqual(first.map((r) => r.offset), [0, 1, 2, 3]);
    const committed = await admin.fetchCommittedOffsets(group, [{ topic, partition: 0 }]);
    assert.equal(committed[0]!.offset, 4);
    const c2 = new Consumer(server.target, { group });
    c2.assign([{ topic, partition: 0, position: { offset: committed[0]!.offset } }]);
    const rest = await readN(c2, 6);
    await c2.close();
    assert.deepEqual(rest.map((r) => r.value.toString()), ['v4', 'v5', 'v6', 'v7', 'v8', 'v9']);
  });

  test('C05 seek by offset', async () => {
    const topic = uniqueTopic('c05');
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer(server.target, { lingerMs: 50 });
    // One batch of 10: starting at 5 must trim the batch's first records.
    await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send({ topic, value: `v${i}`, partition: 0 })));
    await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send({ topic, value: `w${i}`, partition: 0 })));
    await producer.close();
    const c = new Consumer(server.target);
    c.assign([{ topic, partition: 0, position: { offset: 5 } }]);
    const got = await readN(c, 3);
    assert.deepEqual(got.map((r) => r.offset), [5, 6, 7]);
    const at = await c.seek({ topic, partition: 0 }, { offset: 15 });
    assert.equal(at, 15);
    const after = await readN(c, 5);
    await c.close();
    assert.deepEqual(after.map((r) => r.offset), [15, 16, 17, 18, 19]);
  });

  test('C06 seek by time', async () => {
    const topic = uniqueTopic('c06');
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer(server.target, { lingerMs: 50 });
    const base = 1_700_000_000_000;
    await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send({ topic, value: `v${i}`, partition: 0, timestampMs: base + i * 1000 })));
    await producer.close();
    const c = new Consumer(server.target);
    c.assign([{ topic, partition: 0, position: { timestampMs: base + 3500 } }]);
    const got = await readN(c, 6);
    assert.deepEqual(got.map((r) => r.offset), [4, 5, 6, 7, 8, 9]);
    assert.equal(got[0]!.timestampMs, base + 4000);
    const at = await c.seek({ topic, partition: 0 }, { timestampMs: base + 7000 });
    assert.equal(at, 7);
    const again = await readN(c, 3);
    await c.close();
    assert.deepEqual(again.map((r) => r.offset), [7, 8, 9]);
  });

  test('C07 unknown topic NOT_FOUND', async () => {
    const producer = new Producer(server.target);
    await expectCode(producer.send({ topic: 'no-such-topic', value: 'x' }), Code.NOT_FOUND);
    await expectCode(producer.send({ topic: 'no-such-topic', value: 'x', partition: 0 }), Code.NOT_FOUND);
    await producer.close();
    await expectCode(admin.describeTopic('no-such-topic'), Code.NOT_FOUND);
  });

  test('C08 bad name INVALID_ARGUMENT', async () => {
    await expectCode(admin.createTopic('bad/name'), Code.INVALID_ARGUMENT);
  });

  test('C11 admin topics', async () => {
    const topic = uniqueTopic('c11');
    const created = await admin.createTopic(topic, { partitions: 2, config: { retentionMs: 3_600_000 } });
    assert.equal(created.partitions.length, 2);
    assert.ok((await admin.listTopics()).some((t) => t.name === topic && t.partitions === 2));
    const desc = await admin.describeTopic(topic);
    assert.equal(desc.config?.retentionMs, 3_600_000);
    const cfg = await admin.alterTopicConfig(topic, { retentionMs: 7_200_000 });
    assert.equal(cfg.retentionMs, 7_200_000);
    assert.equal((await admin.describeTopic(topic)).config?.retentionMs, 7_200_000);
    const grown = await admin.createPartitions(topic, 4);
    assert.equal(grown.partitions.length, 4);
    const producer = new Producer(server.target);
    await producer.send({ topic, value: 'x', partition: 3 });
    await producer.close();
    const latest = await admin.listOffsets(topic, 'latest');
    assert.equal(latest.length, 4);
    assert.equal(latest.find((p) => p.partition === 3)?.offset, 1);
    assert.equal((await admin.listOffsets(topic, 'earliest', [3]))[0]?.offset, 0);
    const cluster = await admin.describeCluster();
    assert.ok(cluster.brokers.length >= 1);
    assert.ok(cluster.clusterId.length > 0);
    await admin.deleteTopic(topic);
    await expectCode(admin.describeTopic(topic), Code.NOT_FOUND);
    assert.ok(!(await admin.listTopics()).some((t) => t.name === topic));
  });

  test('C12 group subscribe', async () => {
    const topic = uniqueTopic('c12');
    const group = uniqueTopic('g12');
    await admin.createTopic(topic, { partitions: 3 });
    const producer = new Producer(server.target);
    await Promise.all(Array.from({ length: 9 }, (_, i) => producer.send({ topic, key: `k${i}`, value: `before${i}` })));
    const assigned: TopicPartition[] = [];
    const c = new Consumer(server.target, { group, onAssign: (tps) => { assigned.push(...tps); } });
    await c.subscribe({ topics: [topic], start: 'earliest' });
    const got: string[] = [];
    const reading = (async () => {
      for await (const r of c) {
        got.push(r.value.toString());
        if (got.length === 18) break;
      }
    })();
    await waitFor(() => assigned.length === 3, 10_000, 'assignment');
    assert.deepEqual(assigned.map((t) => t.partition).sort(), [0, 1, 2]);
    await Promise.all(Array.from({ length: 9 }, (_, i) => producer.send({ topic, key: `k${i}`, value: `after${i}` })));
    await producer.close();
    const timer = setTimeout(() => void c.close(), 15_000);
    await reading;
    clearTimeout(timer);
    await c.close();
    assert.equal(got.length, 18);
    assert.deepEqual(new Set(got), new Set([...Array(9).keys()].flatMap((i) => [`before${i}`, `after${i}`])));
    const groups = await admin.listGroups();
    assert.ok(groups.some((g) => g.group === group));
  });

  test('C13 async round trip', async () => {
    const topic = uniqueTopic('c13');
    await admin.createTopic(topic, { partitions: 2 });
    const consumer = new Consumer(server.target);
    await consumer.subscribe({ topics: [topic], start: 'earliest' });
    const producer = new Producer(server.target);
    const sends: Promise<RecordMetadata>[] = [];
    for (let i = 0; i < 200; i++) sends.push(producer.send({ topic, key: `k${i % 7}`, value: `v${i}` }));
    const seen = new Set<string>();
    const timer = setTimeout(() => void consumer.close(), 15_000);
    for await (const rec of consumer) {
      seen.add(rec.value.toString());
      if (seen.size === 200) break;
    }
    clearTimeout(timer);
    const metas = await Promise.all(sends);
    await producer.close();
    await consumer.close();
    assert.equal(seen.size, 200);
    assert.equal(metas.length, 200);
  });

  test('C14 bounded buffer', async () => {
    const topic = uniqueTopic('c14');
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer(server.target, { bufferMaxBytes: 3500, maxBlockMs: 200, lingerMs: 60_000, maxBatchBytes: 1 << 20 });
    const value = Buffer.alloc(1000, 1);
    const accepted = [0, 1, 2].map(() => producer.send({ topic, value, partition: 0 }));
    const started = Date.now();
    await expectCode(producer.send({ topic, value, partition: 0 }), Code.RESOURCE_EXHAUSTED);
    assert.ok(Date.now() - started >= 150, 'waited maxBlockMs');
    await producer.flush();
    for (const m of await Promise.all(accepted)) assert.ok(m.offset >= 0);
    const more = producer.send({ topic, value, partition: 0 }); // room again after the flush
    await producer.close(); // flushes the lingering batch
    assert.equal((await more).offset, 3);
  });

  test('C15 group split and rebalance', async () => {
    const topic = uniqueTopic('c15');
    const group = uniqueTopic('g15');
    await admin.createTopic(topic, { partitions: 6 });
    const producer = new Producer(server.target);
    const produce = (tag: string, n: number) => Promise.all(Array.from({ length: n }, (_, i) =>
      producer.send({ topic, partition: i % 6, value: `${tag}${i}` })));
    await produce('a', 60);

    const processed = new Map<string, string[]>(); // value -> consumers that processed it
    const revoked: TopicPartition[] = [];
    const owned = { a: new Set<number>(), b: new Set<number>() };
    const mk = (name: 'a' | 'b') => new Consumer(server.target, {
      group, clientId: name, autoCommitIntervalMs: 200, sessionTimeoutMs: 5000,
      onAssign: (tps) => tps.forEach((t) => owned[name].add(t.partition)),
      onRevoke: (tps) => {
        tps.forEach((t) => owned[name].delete(t.partition));
        if (name === 'a') revoked.push(...tps);
      },
    });
    const loop = async (name: string, c: Consumer) => {
      for await (const r of c) {
        const v = r.value.toString();
        processed.set(v, [...(processed.get(v) ?? []), name]);
      }
    };
    const a = mk('a');
    await a.subscribe({ topics: [topic], start: 'earliest' });
    const la = loop('a', a);
    await waitFor(() => processed.size === 60, 10_000, 'a reads 60');
    const b = mk('b');
    await b.subscribe({ topics: [topic], start: 'earliest' });
    const lb = loop('b', b);
    await waitFor(() => owned.a.size === 3 && owned.b.size === 3, 10_000, 'split 3/3');
    assert.deepEqual([...owned.a, ...owned.b].sort(), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(revoked.map((t) => t.partition).sort(), [...owned.b].sort(), 'only moved partitions revoked');
    await produce('b', 60);
    await waitFor(() => processed.size === 120, 10_000, 'both read 120');
    for (const [v, who] of processed) if (v.startsWith('b')) assert.equal(who.length, 1, `${v} processed by ${who}`);
    const bParts = [...owned.b];
    // Closing b moves its partitions back to a, which resumes from b's commits.
    await b.close();
    await lb;
    await waitFor(() => owned.a.size === 6, 10_000, 'a owns all again');
    await produce('c', 60);
    await waitFor(() => processed.size === 180, 10_000, 'a reads the rest');
    for (const [v, who] of processed) {
      if (v.startsWith('b') || v.startsWith('c')) assert.equal(who.length, 1, `${v} processed by ${who}`);
    }
    assert.equal(bParts.length, 3);
    await producer.close();
    await a.close();
    await la;
  });

  test('C16 idempotent retry', async () => {
    const topic = uniqueTopic('c16');
    await admin.createTopic(topic, { partitions: 1 });
    const clients = connect(server.target);
    const init = await new Promise<{ producerId: number; producerEpoch: number }>((resolve, reject) =>
      clients.broker.initProducer({ transactionalId: '' }, (err, res) => (err ? reject(err) : resolve(res))));
    clients.close();
    const req = (id: number, seq: number, v: string): ProduceRequest => ({
      requestId: id, topic, partition: 0, acks: 3, producerId: init.producerId, producerEpoch: init.producerEpoch,
      baseSequence: seq, batch: { records: [{ key: Buffer.alloc(0), value: Buffer.from(v), headers: [], timestampMs: 0 }] },
    });
    // One at a time: a retry of a batch still being written is answered UNAVAILABLE instead.
    const [r1] = await rawProduce(server.target, [req(1, 0, 'x')]);
    const [r2] = await rawProduce(server.target, [req(2, 0, 'x')]);
    const [r3] = await rawProduce(server.target, [req(3, 1, 'y')]);
    assert.equal(r1!.duplicate, false);
    assert.equal(r2!.duplicate, true);
    assert.equal(r2!.baseOffset, r1!.baseOffset);
    assert.equal(r3!.baseOffset, r1!.baseOffset + 1);
    const offsets = await admin.listOffsets(topic, 'latest');
    assert.equal(offsets[0]!.offset, 2, 'stored once');
    // The wrapper is idempotent by default.
    const producer = new Producer(server.target);
    await producer.send({ topic, value: 'z', partition: 0 });
    assert.ok(producer.id.producerId > 0);
    await producer.close();
  });

  test('C17 stale commit ABORTED', async () => {
    const topic = uniqueTopic('c17');
    const group = uniqueTopic('g17');
    await admin.createTopic(topic, { partitions: 2 });
    const c = new Consumer(server.target, { group, autoCommit: false });
    let assigned = 0;
    const c2 = c;
    await c2.subscribe({ topics: [topic] });
    const reading = (async () => { for await (const _ of c) { /* drain */ } })();
    await waitFor(() => c.memberId !== '', 10_000, 'assignment');
    assigned = c.generation;
    await expectCode(admin.commitOffsets(group, [{ topic, partition: 0, offset: 0 }],
      { generation: assigned - 1, memberId: c.memberId }), Code.ABORTED);
    await expectCode(admin.commitOffsets(group, [{ topic, partition: 0, offset: 0 }],
      { generation: assigned, memberId: 'not-a-member' }), Code.ABORTED);
    const other = uniqueTopic('c17-other');
    await admin.createTopic(other, { partitions: 1 });
    await expectCode(c.commit([{ topic: other, partition: 0, offset: 0 }]), Code.ABORTED);
    await c.close();
    await reading;
  });
});
