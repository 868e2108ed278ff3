import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { producerConfig } from './producer-config';

describe('producerConfig', () => {
  it('names its partitioner, so KafkaJS has no default-partitioner warning to log', () => {
    const warnings: string[] = [];
    const kafka = new Kafka({
      brokers: ['127.0.0.1:9'],
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => void warnings.push(entry.log.message),
    });
    kafka.producer(producerConfig);
    assert.deepEqual(warnings, []);
    // The same client warns once a producer leaves the partitioner to its default.
    kafka.producer({ idempotent: true });
    assert.match(warnings.join('\n'), /switched default partitioner/);
  });
});
