import { Partitioners, type ProducerConfig } from 'kafkajs';

/**
 * How every producer of the service is made: idempotent, and keyed records partitioned by
 * murmur2 as Java clients do (KafkaJS 2's default), so a report's events share a partition with
 * anything else keyed by its id. Naming the partitioner also keeps KafkaJS from warning at each
 * start-up that its default changed in v2.
 */
export const producerConfig: ProducerConfig = {
  idempotent: true,
  createPartitioner: Partitioners.DefaultPartitioner,
};
