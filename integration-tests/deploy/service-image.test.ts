import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { workflowIdFor } from '../../src/domain/ids';
import { imageOf } from '../../stack/docker';
import { apiAt, waitForEnd } from '../support/api-harness';
import { sampleRequestRecord } from '../../testing/kafka-harness';
import { LlmStandIn } from '../../testing/llm-control';
import { createTopics } from '../../testing/service-processes';
import { config as serverConfig, testEndpoints, uniqueName } from '../../testing/stack-env';

/**
 * The service's own image (./Dockerfile), as Kubernetes and Compose run it: its release step,
 * then its worker, consumer and API entry points as containers on the servers' network, each
 * healthy by the image's HEALTHCHECK. A report through the API and one through Kafka complete.
 */
describe('the service image', () => {
  const image = imageOf('release');
  const containers: StartedTestContainer[] = [];
  const llm = new LlmStandIn(testEndpoints.llmControl);
  let env: Record<string, string>;
  let apiUrl: string;
  let topics: Awaited<ReturnType<typeof createTopics>>;

  const container = (entry: string): GenericContainer =>
    new GenericContainer(image)
      .withNetworkMode(testEndpoints.network)
      .withLabels({ 'report-pipeline.run': testEndpoints.run })
      .withEnvironment(env)
      .withCommand([entry]);

  before(async () => {
    topics = await createTopics(serverConfig);
    const c = topics.config;
    env = {
      ...testEndpoints.inNetworkEnv,
      OPENAI_BASE_URL: llm.baseUrlOn(new URL(testEndpoints.inNetworkEnv.OPENAI_BASE_URL!).origin),
      TEMPORAL_TASK_QUEUE: uniqueName('image-reports'),
      TOPIC_REPORTS_REQUESTED: c.TOPIC_REPORTS_REQUESTED,
      TOPIC_REPORTS_REQUESTED_DLQ: c.TOPIC_REPORTS_REQUESTED_DLQ,
      TOPIC_REVIEW_DECISIONS: c.TOPIC_REVIEW_DECISIONS,
      TOPIC_REVIEW_DECISIONS_DLQ: c.TOPIC_REVIEW_DECISIONS_DLQ,
      TOPIC_REPORTS_COMPLETED: c.TOPIC_REPORTS_COMPLETED,
      TOPIC_REPORTS_FAILED: c.TOPIC_REPORTS_FAILED,
      TOPIC_NOTIFICATIONS_EMAIL: c.TOPIC_NOTIFICATIONS_EMAIL,
      KAFKA_CONSUMER_GROUP: c.KAFKA_CONSUMER_GROUP,
      KAFKA_REVIEW_CONSUMER_GROUP: c.KAFKA_REVIEW_CONSUMER_GROUP,
      LOG_LEVEL: 'info',
    };
  });

  after(async () => {
    await Promise.all(containers.map((c) => c.stop({ remove: true, timeout: 10_000 })));
    await llm.close();
  });

  it('runs its release step to completion', async () => {
    const release = await container('dist/release/main.js')
      .withWaitStrategy(Wait.forOneShotStartup())
      .withStartupTimeout(120_000)
      .start();
    // The one-shot wait fails unless the container exited with 0.
    containers.push(release);
  });

  it('starts the worker, consumer and API healthy', async () => {
    const started = await Promise.all(
      ['dist/worker/main.js', 'dist/consumers/main.js', 'dist/http/main.js'].map((entry) =>
        container(entry)
          .withExposedPorts(3000)
          .withEnvironment({ PUBLIC_BASE_URL: 'http://localhost:3000' })
          .withWaitStrategy(Wait.forHealthCheck())
          .withStartupTimeout(120_000)
          .start(),
      ),
    );
    containers.push(...started);
    const api = started[2]!;
    apiUrl = `http://${api.getHost()}:${api.getMappedPort(3000)}`;
    const ready = await fetch(`${apiUrl}/ready`);
    assert.equal(ready.status, 200);
  });

  it('completes a report asked for through the API, its PDF served', async () => {
    const key = uniqueName('image-api');
    const res = await fetch(`${apiUrl}/api/workflows/generate-report`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({
        prompt: `Heat pumps in cold climates (${key})`,
        requester: { id: 'team-image', email: `${key}@example.com` },
      }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { workflowId, reportId } = (await res.json()) as { workflowId: string; reportId: string };
    const status = await waitForEnd(apiAt(apiUrl), `/api/workflows/${workflowId}/status`);
    assert.equal(status.status, 'COMPLETED', JSON.stringify(status));
    const pdf = await fetch(`${apiUrl}/api/reports/${reportId}/pdf`);
    assert.equal(pdf.status, 200);
    assert.equal(
      Buffer.from(await pdf.arrayBuffer())
        .subarray(0, 5)
        .toString(),
      '%PDF-',
    );
    assert.equal(await llm.countFor(`${workflowId}:callLlm`), 1, 'one LLM call');
  });

  it('completes a report asked for through Kafka', async () => {
    const record = sampleRequestRecord('image-kafka');
    const producer = topics.kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: topics.config.TOPIC_REPORTS_REQUESTED,
        messages: [
          {
            key: record.idempotencyKey,
            value: await topics.registry.encode(topics.requestSchemaId, record),
          },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    const status = await waitForEnd(
      apiAt(apiUrl),
      `/api/workflows/${workflowIdFor(record.idempotencyKey)}/status`,
    );
    assert.equal(status.status, 'COMPLETED', JSON.stringify(status));
  });
});
