import type { Admin } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';

/**
 * Lag per partition of the request topic: the newest offset minus the group's committed one,
 * read from the brokers when Prometheus scrapes, so it is right even while nothing is consumed.
 */
export function registerConsumerLagGauge(
  registry: Registry,
  admin: Admin,
  groupId: string,
  topic: string,
): void {
  new Gauge({
    name: 'report_consumer_lag_messages',
    help: 'Records on the request topic not yet committed by the consumer group, per partition',
    labelNames: ['topic', 'partition'] as const,
    registers: [registry],
    async collect() {
      const [latest, committed] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId, topics: [topic] }),
      ]);
      const done = new Map(
        (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
      );
      for (const p of latest) {
        const high = Number(p.high);
        const at = done.get(p.partition) ?? -1;
        // No commit yet: everything from the earliest offset is waiting.
        const lag = at < 0 ? high - Number(p.low) : Math.max(0, high - at);
        this.set({ topic, partition: String(p.partition) }, lag);
      }
    },
  });
}
