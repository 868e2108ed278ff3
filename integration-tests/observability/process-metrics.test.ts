import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kafka, Producer } from 'kafkajs';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../../src/config/config';
import { workflowIdFor } from '../../src/domain/ids';
import type { GenerateReportWorkflow } from '../../src/workflows/generate-report-workflow';
import { createReportHarness, type ReportHarness } from '../../testing/report-harness';
import { scrape, total, type Sample } from '../support/prometheus-text';
import {
  createTopics,
  startServiceProcesses,
  terminate,
  type ServiceProcess,
} from '../../testing/service-processes';
import { uniqueName } from '../../testing/stack-env';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

describe('metrics of the three processes', () => {
  let h: ReportHarness;
  let config: Config;
  let kafka: Kafka;
  let registry: SchemaRegistry;
  let requestSchemaId: number;
  let producer: Producer;
  let services: ServiceProcess[] = [];
  const byName = (name: ServiceProcess['name']) => services.find((s) => s.name === name)!;
  /** The worker's metrics once its relay has published what earlier tests left in the outbox. */
  let workerBaseline: Sample[] = [];

  before(async () => {
    h = await createReportHarness();
    ({ config, kafka, registry, requestSchemaId } = await createTopics(h.config));
    producer = kafka.producer();
    await producer.connect();
    services = await startServiceProcesses(config);
    // The outbox is shared: reports of earlier test files may still have events to publish.
    const deadline = Date.now() + 20_000;
    do {
      workerBaseline = await scrape(`${byName('worker').opsUrl}/metrics`);
      if (total(workerBaseline, 'report_outbox_backlog_events') === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    } while (Date.now() < deadline);
    assert.equal(total(workerBaseline, 'report_outbox_backlog_events'), 0, 'outbox drained');
  });
  after(async () => {
    for (const s of services) if (s.child.process.exitCode === null) await terminate(s);
    await producer.disconnect();
    await h.close();
  });

  /** Events this test's reports published: the worker's count since the baseline. */
  const published = (samples: Sample[], labels: Record<string, string> = {}): number =>
    total(samples, 'report_outbox_events_published_total', labels) -
    total(workerBaseline, 'report_outbox_events_published_total', labels);

  it('serve Prometheus text that moves as reports run through Kafka and HTTP', async () => {
    const kafkaKey = uniqueName('metrics-kafka');
    const request = {
      idempotencyKey: kafkaKey,
      prompt: 'Battery recycling',
      requester: { id: 'metrics', email: 'metrics@example.com' },
      options: { model: null, maxTokens: null, language: 'en' },
      requestedAt: Date.now(),
      correlationId: null,
    };
    const value = await registry.encode(requestSchemaId, request);
    await producer.send({
      topic: config.TOPIC_REPORTS_REQUESTED,
      messages: [
        { key: kafkaKey, value },
        { key: kafkaKey, value },
        { key: 'junk', value: Buffer.from('not avro at all') },
      ],
    });
    const httpKey = uniqueName('metrics-http');
    const posted = await fetch(`${byName('api').opsUrl}/api/workflows/generate-report`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': httpKey },
      body: JSON.stringify({
        prompt: 'Hydrogen storage',
        requester: { id: 'metrics', email: 'metrics@example.com' },
      }),
    });
    assert.equal(posted.status, 202);

    for (const key of [kafkaKey, httpKey]) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          const result: { status: string } = await h.client.workflow
            .getHandle<typeof GenerateReportWorkflow>(workflowIdFor(key))
            .result();
          assert.equal(result.status, 'COMPLETED');
          break;
        } catch (error: unknown) {
          // The consumer may not have started it yet.
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    }

    // The relay publishes moments after the reports end; the consumer commits after its start.
    let worker: Sample[] = [];
    let consumer: Sample[] = [];
    const deadline = Date.now() + 20_000;
    do {
      await new Promise((r) => setTimeout(r, 300));
      worker = await scrape(`${byName('worker').opsUrl}/metrics`);
      consumer = await scrape(`${byName('consumer').opsUrl}/metrics`);
    } while (
      Date.now() < deadline &&
      (published(worker) < 4 || total(consumer, 'report_consumer_lag_messages') > 0)
    );
    const api = await scrape(`${byName('api').opsUrl}/metrics`);

    assert.equal(total(consumer, 'report_requests_consumed_total', { outcome: 'started' }), 1);
    assert.equal(total(consumer, 'report_requests_consumed_total', { outcome: 'duplicate' }), 1);
    assert.equal(
      total(consumer, 'report_requests_consumed_total', { outcome: 'dead_lettered' }),
      1,
    );
    assert.equal(total(consumer, 'report_requests_dead_lettered_total', { reason: 'not-avro' }), 1);
    assert.equal(
      total(consumer, 'report_workflow_starts_total', { source: 'kafka', result: 'created' }),
      1,
    );
    assert.equal(total(consumer, 'report_workflow_starts_in_flight'), 0);
    const lag = consumer.filter((s) => s.name === 'report_consumer_lag_messages');
    assert.equal(lag.length, 3, 'lag for each of the 3 partitions');
    assert.equal(total(consumer, 'report_consumer_lag_messages'), 0, 'all committed');

    assert.equal(
      total(worker, 'reports_finished_total', { status: 'COMPLETED', stage: 'none' }),
      2,
    );
    assert.equal(
      total(worker, 'report_activity_duration_seconds_count', {
        activity: 'callLlm',
        outcome: 'success',
      }),
      2,
    );
    assert.equal(
      total(worker, 'report_activity_duration_seconds_count', { activity: 'createPdf' }),
      2,
    );
    assert.ok(total(worker, 'report_llm_tokens_total', { kind: 'prompt' }) > 0);
    assert.ok(total(worker, 'report_llm_tokens_total', { kind: 'completion' }) > 0);
    assert.ok(
      total(worker, 'report_llm_estimated_cost_usd_total', { model: config.OPENAI_MODEL }) > 0,
      'a priced default model costs something',
    );
    assert.equal(total(worker, 'report_pdf_size_bytes_count'), 2);
    assert.ok(total(worker, 'report_pdf_size_bytes_sum') > 2 * 10_000);
    assert.equal(total(worker, 'report_pdf_render_seconds_count'), 2);
    assert.equal(total(worker, 'report_emails_total', { status: 'sent' }), 2);
    assert.equal(published(worker, { event_type: 'ReportCompleted' }), 2);
    assert.equal(published(worker, { event_type: 'EmailNotification' }), 2);
    assert.ok(
      total(worker, 'report_outbox_publish_delay_seconds_count') -
        total(workerBaseline, 'report_outbox_publish_delay_seconds_count') >=
        4,
    );
    assert.ok(worker.some((s) => s.name === 'report_outbox_backlog_events'));
    assert.ok(
      worker.some((s) => s.name.startsWith('temporal_')),
      "the Temporal SDK's worker metrics are exported too",
    );

    assert.equal(
      total(api, 'http_request_duration_seconds_count', {
        method: 'POST',
        route: '/api/workflows/generate-report',
        status_code: '202',
      }),
      1,
    );
    assert.equal(
      total(api, 'report_workflow_starts_total', { source: 'http', result: 'created' }),
      1,
    );

    for (const [name, samples] of [
      ['worker', worker],
      ['consumer', consumer],
      ['api', api],
    ] as const) {
      assert.ok(
        samples.some((s) => s.name === 'process_cpu_seconds_total'),
        `${name}: process metrics`,
      );
      for (const s of samples)
        for (const value of Object.values(s.labels))
          assert.doesNotMatch(value, UUID, `${name}: ${s.name} has no id in its labels`);
    }
  });

  it('each process exits 0 on SIGTERM, well within its grace period', async () => {
    const results = await Promise.all(services.map((s) => terminate(s)));
    for (const r of results) {
      assert.equal(r.code, 0, `${r.name} exit code`);
      assert.ok(r.ms < 10_000, `${r.name} took ${r.ms} ms`);
    }
  });
});
