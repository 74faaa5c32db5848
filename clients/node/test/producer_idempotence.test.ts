// Idempotent producer window and identity change, against a fake Produce stream (no server):
// at most MAX_IDEMPOTENT_IN_FLIGHT_PER_PARTITION unacknowledged batches per partition, and a batch
// already sent under the old producer id fails as "outcome unknown" instead of being re-sequenced.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { Code, HeraldError, MAX_IDEMPOTENT_IN_FLIGHT_PER_PARTITION, Producer, type RecordMetadata } from '../src/index.js';
import type { Clients } from '../src/connection.js';
import type { ProduceRequest, ProduceResponse } from '../src/gen/herald/v1/broker.js';

class FakeStream extends EventEmitter {
  readonly written: ProduceRequest[] = [];
  ended = false;
  write(req: ProduceRequest): boolean {
    this.written.push(req);
    return true;
  }
  end(): void { this.ended = true; }
  cancel(): void { this.ended = true; }
}

class FakeBroker {
  streams: FakeStream[] = [];
  inits = 0;
  nextProducerId = 100;
  /** Every request written and not yet answered, across streams. */
  open = new Map<number, ProduceRequest>();

  produce(): FakeStream {
    const s = new FakeStream();
    const write = s.write.bind(s);
    s.write = (req) => {
      this.open.set(req.requestId, req);
      return write(req);
    };
    this.streams.push(s);
    return s;
  }

  initProducer(_req: unknown, _md: unknown, _opts: unknown,
    cb: (err: null, res: { producerId: number; producerEpoch: number }) => void): void {
    this.inits++;
    const producerId = this.nextProducerId++;
    setImmediate(() => cb(null, { producerId, producerEpoch: 0 }));
  }

  get stream(): FakeStream {
    return this.streams[this.streams.length - 1]!;
  }

  openFor(partition: number): ProduceRequest[] {
    return [...this.open.values()].filter((r) => r.partition === partition);
  }

  answer(req: ProduceRequest, error?: { code: number; message: string }): void {
    this.open.delete(req.requestId);
    const resp: ProduceResponse = {
      requestId: req.requestId, partition: req.partition, baseOffset: error ? -1 : req.baseSequence,
      logAppendTimeMs: 1, duplicate: false, error,
    } as ProduceResponse;
    this.stream.emit('data', resp);
  }

  breakStream(): void {
    this.open.clear();
    this.stream.emit('error', Object.assign(new Error('14 UNAVAILABLE: connection reset'),
      { code: Code.UNAVAILABLE, details: 'connection reset', metadata: undefined }));
  }
}

function fakeClients(broker: FakeBroker): Clients {
  return { broker: broker as never, admin: {} as never, close() {} };
}

const tick = () => new Promise((r) => setImmediate(r));
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await tick();
}

test('idempotent producer keeps at most 5 batches of one partition in flight, in order', async () => {
  const broker = new FakeBroker();
  const producer = new Producer('fake:0', { lingerMs: 0, maxInFlight: 32 }, fakeClients(broker));
  const sends: Promise<RecordMetadata>[] = [];
  for (let i = 0; i < 12; i++) sends.push(producer.send({ topic: 't', partition: 0, value: `p0-${i}` }));
  for (let i = 0; i < 3; i++) sends.push(producer.send({ topic: 't', partition: 1, value: `p1-${i}` }));
  await settle();

  assert.equal(MAX_IDEMPOTENT_IN_FLIGHT_PER_PARTITION, 5);
  assert.equal(broker.openFor(0).length, 5, 'partition 0 is capped at 5 unacknowledged batches');
  assert.equal(broker.openFor(1).length, 3, 'other partitions are not held up behind it');

  let maxSeen = 0;
  while (broker.open.size > 0) {
    maxSeen = Math.max(maxSeen, broker.openFor(0).length, broker.openFor(1).length);
    const oldest = [...broker.open.values()].sort((a, b) => a.requestId - b.requestId)[0]!;
    broker.answer(oldest);
    await settle();
  }
  assert.equal(maxSeen, 5);
  const results = await Promise.all(sends);
  assert.equal(results.length, 15);

  // Each partition's batches went out in order with consecutive sequences under one producer id.
  for (const partition of [0, 1]) {
    const reqs = broker.stream.written.filter((r) => r.partition === partition);
    assert.deepEqual(reqs.map((r) => r.baseSequence), reqs.map((_, i) => i));
    assert.ok(reqs.every((r) => r.producerId === 100));
  }
  assert.equal(broker.inits, 1);
  await producer.close();
});

test('a batch sent under the old producer id fails as outcome unknown instead of being re-sequenced', async () => {
  const broker = new FakeBroker();
  const producer = new Producer('fake:0', { lingerMs: 0, retryBackoffMs: 1, retryBackoffMaxMs: 1 },
    fakeClients(broker));
  const a = producer.send({ topic: 't', partition: 0, value: 'a' });
  const b = producer.send({ topic: 't', partition: 0, value: 'b' });
  const aFailed = a.catch((e: unknown) => e);
  const bFailed = b.catch((e: unknown) => e);
  await settle();
  const [reqA, reqB] = broker.openFor(0);
  assert.equal(reqA!.baseSequence, 0);
  assert.equal(reqB!.baseSequence, 1);

  // A fails for good: the producer needs a new identity, but B is still in flight under the old one.
  broker.answer(reqA!, { code: Code.INVALID_ARGUMENT, message: 'bad batch' });
  await settle();
  assert.equal(((await aFailed) as HeraldError).code, Code.INVALID_ARGUMENT);
  assert.equal(broker.inits, 1, 'no new identity while a batch of the old one is in flight');

  // The stream breaks before B's answer: B may or may not be in the log.
  broker.breakStream();
  await settle();
  const errB = await bFailed;
  assert.ok(errB instanceof HeraldError);
  assert.equal(errB.code, Code.ABORTED);
  assert.match(errB.message, /^outcome unknown: /);
  assert.match(errB.message, /may have been written/);

  // B was never written again, with any sequence.
  const all = broker.streams.flatMap((s) => s.written);
  assert.equal(all.filter((r) => Buffer.from(r.batch!.records[0]!.value).toString() === 'b').length, 1);

  // A record sent afterwards gets a new producer id and starts at sequence 0.
  const c = producer.send({ topic: 't', partition: 0, value: 'c' });
  await new Promise((r) => setTimeout(r, 20));
  await settle();
  const [reqC] = broker.openFor(0);
  assert.ok(reqC);
  assert.equal(broker.inits, 2);
  assert.equal(reqC.producerId, 101);
  assert.equal(reqC.baseSequence, 0);
  broker.answer(reqC);
  assert.equal((await c).partition, 0);
  await producer.close();
});
