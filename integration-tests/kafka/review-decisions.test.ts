import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RecordMetadata } from 'kafkajs';
import type { ReviewDecisionRecord } from '../../src/contracts';
import type { ReviewDecisionConsumer } from '../../src/consumers/review-decision-consumer';
import { reportIdsFor } from '../../src/domain/ids';
import type { ReviewPolicy } from '../../src/domain/review';
import {
  progressQuery,
  type GenerateReportWorkflow,
} from '../../src/workflows/generate-report-workflow';
import { createKafkaHarness, type KafkaHarness } from '../../testing/kafka-harness';
import { listMail, mailTo } from '../../testing/maildev';
import { testEndpoints, uniqueName } from '../../testing/stack-env';

const review: ReviewPolicy = { reviewers: ['risk-bot'], timeoutSeconds: 600, onTimeout: 'REJECT' };

/**
 * Review decisions that upstream systems publish on Kafka, over the real servers: a report that
 * asks for review waits, and the decision consumer applies what arrives on the decisions topic,
 * or dead-letters it with why.
 */
describe('review decisions from Kafka', () => {
  let k: KafkaHarness;
  let decisions: ReviewDecisionConsumer;
  before(async () => {
    k = await createKafkaHarness();
    await k.startConsumer();
    decisions = await k.startDecisionConsumer({ REVIEW_DECISION_WAIT_MS: 2_000 });
  });
  after(() => k.close());

  const dlq = () => k.received.filter((r) => r.topic === k.config.TOPIC_REVIEW_DECISIONS_DLQ);
  const handleOf = (key: string) =>
    k.h.client.workflow.getHandle<typeof GenerateReportWorkflow>(reportIdsFor(key).workflowId);
  const mailsTo = async (address: string) =>
    (await listMail(testEndpoints.maildevApi)).filter((m) =>
      m.to.some((t) => t.address === address),
    );

  /**
   * Produces a ReportRequested that asks for review to the request topic, and waits until its
   * report waits for a decision.
   */
  async function awaitingReview(label: string): Promise<{ key: string; email: string }> {
    const request = k.sampleRequest({ idempotencyKey: uniqueName(label), review: { ...review } });
    await k.produceRequest(request);
    await k.waitFor(
      `${request.idempotencyKey} awaiting review`,
      async () =>
        (
          await handleOf(request.idempotencyKey)
            .query(progressQuery)
            .catch(() => undefined)
        )?.status === 'AWAITING_REVIEW',
      60_000,
    );
    return { key: request.idempotencyKey, email: (request.requester as { email: string }).email };
  }

  const decision = (
    key: string,
    overrides: Partial<ReviewDecisionRecord> = {},
  ): ReviewDecisionRecord => ({
    idempotencyKey: key,
    reviewer: 'risk-bot',
    decision: 'APPROVE',
    comment: null,
    ...overrides,
  });

  it('applies an approval from a reviewer: the report is mailed and completes with the decision, and copies of it, at once or after the end, change nothing', async () => {
    const { key, email } = await awaitingReview('approve');
    const { reportId } = reportIdsFor(key);
    const decided = decisions.stats.decided;
    const letters = dlq().length;

    await k.produceDecisions(decision(key), decision(key));
    await k.waitCompleted(reportId);
    const result = await handleOf(key).result();
    assert.equal(result.status, 'COMPLETED');
    const recorded = result.review?.decision;
    assert.deepEqual(
      {
        decision: recorded?.decision,
        reviewer: recorded?.reviewer,
        automatic: recorded?.automatic,
      },
      { decision: 'APPROVE', reviewer: 'risk-bot', automatic: false },
    );
    const event = (await k.registry.decode(k.completed(reportId)[0]!.value)) as {
      review: { decision: string; reviewer: string | null; automatic: boolean } | null;
    };
    assert.equal(event.review?.reviewer, 'risk-bot', 'the ReportCompleted event names who decided');
    assert.equal((await mailTo(testEndpoints.maildevApi, email)).length, 1, 'one email');
    await k.waitFor('both copies consumed', () => decisions.stats.decided === decided + 2);

    // Redelivered once the report has ended: the update id finds the decision already applied.
    await k.produceDecisions(decision(key));
    await k.waitFor('the late copy consumed', () => decisions.stats.decided === decided + 3);
    assert.equal(dlq().length, letters, 'no copy is dead-lettered');
    assert.equal((await mailsTo(email)).length, 1, 'still one email');

    // A different decision, now, has nothing left to decide.
    await k.produceDecisions(decision(key, { decision: 'REJECT', comment: 'too late' }));
    await k.waitFor('the late rejection dead-lettered', () => dlq().length === letters + 1);
    assert.equal(dlq().at(-1)?.headers['dlq-reason'], 'report-ended');
    assert.equal(dlq().at(-1)?.key, key);
    assert.deepEqual((await handleOf(key).result()).review?.decision, recorded, 'unchanged');
  });

  it('dead-letters decisions that can never apply, each with its reason, and leaves the report waiting', async (t) => {
    const { key, email } = await awaitingReview('refused');
    t.after(() => handleOf(key).terminate('test over'));
    const unknownKey = uniqueName('no-such-report');
    const letters = [
      { key, reason: 'reviewer-not-allowed', value: decision(key, { reviewer: 'mallory' }) },
      { key: unknownKey, reason: 'report-not-found', value: decision(unknownKey) },
      { key, reason: 'invalid-decision', value: decision(key, { reviewer: '   ' }) },
      { key, reason: 'invalid-decision', value: decision(key, { comment: 'x'.repeat(2001) }) },
    ];
    const notAvro = Buffer.from(JSON.stringify(decision(key)));
    await k.produceDecisions(...letters.map((l) => l.value));
    await k.producer.send({
      topic: k.config.TOPIC_REVIEW_DECISIONS,
      acks: -1,
      messages: [{ key: 'not-avro', value: notAvro }],
    });

    const sent = await Promise.all(
      letters.map((l) => k.registry.encode(k.reviewDecisionSchemaId, l.value)),
    );
    const letterOf = (i: number) => dlq().find((r) => r.value.equals(sent[i]!));
    await k.waitFor(
      'every refused decision in the DLQ',
      () => letters.every((_, i) => letterOf(i)) && dlq().some((r) => r.key === 'not-avro'),
    );
    for (const [i, { reason, key: recordKey }] of letters.entries()) {
      const record = letterOf(i)!;
      assert.equal(record.headers['dlq-reason'], reason, `${i}: its reason`);
      assert.equal(record.key, recordKey, `${i}: its key`);
      assert.equal(record.headers['dlq-source-topic'], k.config.TOPIC_REVIEW_DECISIONS);
      assert.match(record.headers['dlq-source-offset'] ?? '', /^\d+$/);
      assert.ok(record.headers['dlq-error-message'], `${reason}: says why`);
    }
    const junk = dlq().find((r) => r.key === 'not-avro')!;
    assert.equal(junk.headers['dlq-reason'], 'not-avro');
    assert.ok(junk.value.equals(notAvro), 'the original bytes');

    const waiting = await handleOf(key).query(progressQuery);
    assert.equal(waiting.status, 'AWAITING_REVIEW');
    assert.equal(waiting.review?.decision, undefined, 'nothing recorded');
    assert.equal((await mailsTo(email)).length, 0, 'nothing mailed');
  });

  it('holds a decision while every worker is down, without committing it, and applies it once one runs again', async () => {
    const { key, email } = await awaitingReview('held');
    const { reportId } = reportIdsFor(key);
    const topic = k.config.TOPIC_REVIEW_DECISIONS;
    const committed = async (partition: number): Promise<number> => {
      const [offsets] = await k.admin.fetchOffsets({
        groupId: k.config.KAFKA_REVIEW_CONSUMER_GROUP,
        topics: [topic],
      });
      return Number(offsets?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
    };
    const { retries, decided } = decisions.stats;
    const letters = dlq().length;

    await k.h.stopWorkers();
    let metadata: RecordMetadata | undefined;
    try {
      [metadata] = await k.produceDecisions(decision(key, { comment: 'limits checked' }));
      await k.waitFor(
        'the decision retried twice',
        () => decisions.stats.retries >= retries + 2,
        30_000,
      );
      assert.ok(
        (await committed(metadata!.partition)) <= Number(metadata!.baseOffset),
        'not committed while no worker applies it',
      );
      const [row] = await k.h.dataSource.query<{ review_decision: string | null }[]>(
        `SELECT review_decision FROM reports WHERE id = $1`,
        [reportId],
      );
      assert.equal(row?.review_decision, null, 'nothing recorded');
    } finally {
      await k.h.startWorker();
    }

    await k.waitCompleted(reportId);
    await k.waitFor('the decision consumed', () => decisions.stats.decided === decided + 1);
    assert.equal((await handleOf(key).result()).review?.decision?.comment, 'limits checked');
    assert.equal((await mailTo(testEndpoints.maildevApi, email)).length, 1, 'one email');
    assert.equal(dlq().length, letters, 'nothing dead-lettered');
    const { partition, baseOffset } = metadata!;
    await k.waitFor(
      'its offset committed',
      async () => (await committed(partition)) === Number(baseOffset) + 1,
    );
  });
});
