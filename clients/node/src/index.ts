/**
 * Herald client for Node.js: {@link Producer}, {@link Consumer}, {@link Admin}.
 * @packageDocumentation
 */
export { Producer, Acks, MAX_IDEMPOTENT_IN_FLIGHT_PER_PARTITION, type ProducerOptions } from './producer.js';
export { Consumer, AssignmentStrategy, type ConsumerOptions, type SubscribeOptions, type PartitionAssignment } from './consumer.js';
export * from './admin.js';
export { HeraldError, Code, toHeraldError } from './errors.js';
export { murmur2, partitionForKey } from './murmur2.js';
export { connect, type ConnectionOptions, type Clients } from './connection.js';
export type { Bytes, Header, ProducerRecord, RecordMetadata, ConsumedRecord, TopicPartition, StartPosition } from './types.js';
