// E-mail service: "sends" a confirmation for every placed order.
//
//   HERALD_BROKERS=127.0.0.1:7420 OUTPUT_FILE=email.txt node email.mjs
//
// Consumer group "email": every order is handled once by this group, whatever
// the other groups (inventory, billing) do. Each order is processed (logged,
// its id appended to $OUTPUT_FILE), then committed. Runs until SIGINT/SIGTERM.
import { appendFileSync } from 'node:fs';
import { Consumer } from '@herald/client';

const brokers = process.env.HERALD_BROKERS || '127.0.0.1:7420';
const output = process.env.OUTPUT_FILE;
const log = (msg) => console.log(`${new Date().toISOString()} email ${msg}`);
const names = (tps) => tps.map((tp) => `${tp.topic}-${tp.partition}`).sort().join(',');

const consumer = new Consumer(brokers, {
  group: 'email',
  onAssign: (tps) => log(`assigned partitions [${names(tps)}]`),
  onRevoke: (tps) => log(`revoked partitions [${names(tps)}]`),
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  // close() commits the processed positions, leaves the group and ends the loop below.
  consumer.close().catch((err) => log(`close: ${err.message}`));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

await consumer.subscribe({ topics: ['orders'], start: 'earliest' });
let processed = 0;
for await (const rec of consumer) {
  let order;
  try {
    order = JSON.parse(rec.value.toString('utf8'));
  } catch (err) {
    log(`skipping malformed event at ${rec.partition}/${rec.offset}: ${err.message}`);
    continue;
  }
  log(`sent confirmation for ${order.order_id} to ${order.customer_id} partition=${rec.partition} offset=${rec.offset}`);
  // Synchronous append: the id is on disk before the commit below.
  if (output) appendFileSync(output, `${order.order_id}\n`);
  processed++;
  try {
    // Commit after processing: the next offset to read is past this record.
    await consumer.commit([{ topic: rec.topic, partition: rec.partition, offset: rec.offset + 1 }]);
  } catch (err) {
    if (!stopping) log(`commit: ${err.message}`); // at-least-once: the next owner re-reads
  }
}
log(`stopped after ${processed} orders`);
