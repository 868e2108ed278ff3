import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { createSchemaRegistry, reportRequestedSchema } from '../../src/contracts';
import { Report } from '../../src/entities/report';
import { findMail, listMail } from '../../testing/maildev';
import { testEndpoints, uniqueName } from '../../testing/stack-env';
import {
  createApiHarness,
  waitForEnd,
  type ApiErrorBody,
  type ApiHarness,
} from '../support/api-harness';
import { leftovers, outboxEvents } from '../support/report-assertions';

interface Started {
  workflowId: string;
  reportId: string;
  links: { status: string; result: string; pdf: string };
}

interface Decision {
  decision: 'APPROVE' | 'REJECT';
  reviewer?: string;
  automatic: boolean;
  comment?: string;
  decidedAt: string;
  waitedMs: number;
}

interface Status {
  status: string;
  stage: string;
  progress: number;
  review?: { reviewers: string[]; deadline: string; waitingSince: string; decision?: Decision };
  failure?: { stage: string; errorType: string; message: string };
  compensated: string[];
}

/**
 * The review gate through the API, over the real servers: a report that asks for review stores
 * its PDF and waits; a reviewer's decision (or the timeout's) lets it through or rolls it back.
 */
describe('the review gate over the real stack', () => {
  let api: ApiHarness;
  before(async () => {
    api = await createApiHarness({ settings: { REVIEW_DECISION_WAIT_MS: 3_000 } });
  });
  after(() => api.close());

  async function start(
    review: { reviewers: string[]; timeoutSeconds: number; onTimeout: 'APPROVE' | 'REJECT' },
    label: string,
  ): Promise<Started & { email: string }> {
    const id = uniqueName(label);
    const email = `${id}@example.com`;
    const response = await api.call('/api/workflows/generate-report', {
      method: 'POST',
      headers: { 'idempotency-key': id },
      json: {
        prompt: `Offshore wind supply chains (${id})`,
        requester: { id: 'team-review', email },
        review,
      },
    });
    assert.equal(response.status, 202, await response.clone().text());
    return { ...((await response.json()) as Started), email };
  }

  async function status(started: Started): Promise<Status> {
    const response = await api.call(started.links.status);
    assert.equal(response.status, 200);
    return (await response.json()) as Status;
  }

  async function awaitingReview(started: Started): Promise<Status> {
    for (let i = 0; i < 240; i++) {
      const response = await api.call(started.links.status);
      if (response.status === 200) {
        const seen = (await response.json()) as Status;
        if (seen.status === 'AWAITING_REVIEW') return seen;
        assert.equal(seen.status, 'RUNNING', `waiting for review, saw ${JSON.stringify(seen)}`);
      } else await response.arrayBuffer();
      await sleep(250);
    }
    assert.fail(`${started.workflowId} never waited for review`);
  }

  const decide = (started: Started, body: Record<string, unknown>) =>
    api.call(`/api/workflows/${started.workflowId}/review`, { method: 'POST', json: body });

  const row = (reportId: string) =>
    api.dataSource.getRepository(Report).findOneByOrFail({ id: reportId });

  it('approved: waits with its PDF stored and nothing mailed, refuses strangers and second decisions, then mails and completes with the decision everywhere', async () => {
    const started = await start(
      { reviewers: ['rita', 'omar'], timeoutSeconds: 600, onTimeout: 'REJECT' },
      'approve',
    );
    const waiting = await awaitingReview(started);
    assert.equal(waiting.stage, 'review');
    assert.equal(waiting.progress, 3 / 6);
    assert.deepEqual(waiting.review?.reviewers, ['rita', 'omar']);
    assert.ok(Date.parse(waiting.review.deadline) > Date.now() + 500_000, 'deadline ahead');

    const pdf = await api.call(`${started.links.pdf}?disposition=inline`);
    assert.equal(pdf.status, 200, 'the reviewer can read the PDF');
    assert.match(pdf.headers.get('content-disposition') ?? '', /^inline;/);
    assert.equal((await pdf.arrayBuffer()).byteLength > 1000, true);
    assert.equal(
      (await listMail(testEndpoints.maildevApi)).filter((m) =>
        m.to.some((t) => t.address === started.email),
      ).length,
      0,
      'nothing mailed while waiting',
    );
    const notReady = await api.call(started.links.result);
    assert.equal(notReady.status, 409);

    const pending = (await (await api.call('/api/reviews?limit=200')).json()) as {
      reviews: {
        workflowId: string;
        reviewers: string[];
        links: { review: string; pdf: string };
      }[];
    };
    const listed = pending.reviews.find((r) => r.workflowId === started.workflowId);
    assert.deepEqual(listed?.reviewers, ['rita', 'omar']);
    assert.equal(listed?.links.review, `/api/workflows/${started.workflowId}/review`);

    const stranger = await decide(started, { reviewer: 'mallory', decision: 'APPROVE' });
    assert.equal(stranger.status, 403);
    assert.equal(((await stranger.json()) as ApiErrorBody).error.code, 'REVIEWER_NOT_ALLOWED');
    const bad = await decide(started, { reviewer: 'rita', decision: 'MAYBE' });
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
    assert.equal((await status(started)).review?.decision, undefined, 'nothing recorded');

    const approved = await decide(started, {
      reviewer: 'omar',
      decision: 'APPROVE',
      comment: 'figures checked against the source',
    });
    assert.equal(approved.status, 200);
    const decided = (await approved.json()) as { status: string; review: Decision };
    assert.equal(decided.status, 'DECIDED');
    assert.equal(decided.review.reviewer, 'omar');

    const second = await decide(started, { reviewer: 'rita', decision: 'REJECT' });
    assert.equal(second.status, 409);
    const refusal = (await second.json()) as ApiErrorBody;
    assert.equal(refusal.error.code, 'REVIEW_NOT_PENDING');
    assert.match(refusal.error.message, /already decided: APPROVE by omar/);

    const ended = await waitForEnd(api, started.links.status);
    assert.equal(ended.status, 'COMPLETED');
    const result = (await (await api.call(started.links.result)).json()) as Status & {
      pdf?: unknown;
    };
    assert.equal(result.status, 'COMPLETED');
    assert.ok(result.pdf);
    assert.deepEqual(
      { ...result.review?.decision, decidedAt: undefined, waitedMs: undefined },
      {
        decision: 'APPROVE',
        reviewer: 'omar',
        automatic: false,
        comment: 'figures checked against the source',
        decidedAt: undefined,
        waitedMs: undefined,
      },
    );
    await findMail(testEndpoints.maildevApi, (m) => m.to.some((t) => t.address === started.email));

    const stored = await row(started.reportId);
    assert.equal(stored.status, 'COMPLETED');
    assert.equal(stored.reviewDecision, 'APPROVE');
    assert.equal(stored.reviewedBy, 'omar');
    assert.equal(stored.reviewAutomatic, false);
    assert.equal(stored.reviewComment, 'figures checked against the source');
    assert.equal(stored.reviewedAt?.toISOString(), result.review?.decision?.decidedAt);
    const completed = (await outboxEvents(api.dataSource, started.reportId)).find(
      (e) => e.event_type === 'ReportCompleted',
    );
    assert.deepEqual(completed?.payload.review, {
      decision: 'APPROVE',
      reviewer: 'omar',
      automatic: false,
      comment: 'figures checked against the source',
      decidedAt: Date.parse(result.review!.decision!.decidedAt),
    });
    const after = (await (await api.call('/api/reviews?limit=200')).json()) as {
      reviews: { workflowId: string }[];
    };
    assert.ok(!after.reviews.some((r) => r.workflowId === started.workflowId), 'no longer pending');
  });

  it('rejected: REJECTED, its PDF deleted and row rolled back, never mailed; the event says who and why', async () => {
    const started = await start(
      { reviewers: ['rita'], timeoutSeconds: 600, onTimeout: 'APPROVE' },
      'reject',
    );
    await awaitingReview(started);
    const rejected = await decide(started, {
      reviewer: 'rita',
      decision: 'REJECT',
      comment: 'cites sources that do not exist',
    });
    assert.equal(rejected.status, 200);
    await rejected.arrayBuffer();

    const ended = (await waitForEnd(api, started.links.status)) as unknown as Status;
    assert.equal(ended.status, 'REJECTED');
    assert.equal(ended.failure?.errorType, 'ReviewRejected');
    assert.match(
      ended.failure?.message ?? '',
      /REJECT by rita .*: cites sources that do not exist/,
    );
    assert.deepEqual(ended.compensated, ['markReportRolledBack', 'deletePdf']);
    const result = (await (await api.call(started.links.result)).json()) as Status & {
      pdf?: unknown;
    };
    assert.equal(result.status, 'REJECTED');
    assert.equal(result.pdf, undefined);
    assert.equal((await api.call(started.links.pdf)).status, 404);
    assert.equal((await leftovers(api.dataSource, started.reportId)).pdf, 0);
    const stored = await row(started.reportId);
    assert.equal(stored.status, 'ROLLED_BACK');
    assert.equal(stored.reviewDecision, 'REJECT');
    assert.equal(stored.reviewedBy, 'rita');
    const failed = (await outboxEvents(api.dataSource, started.reportId)).find(
      (e) => e.event_type === 'ReportFailed',
    );
    assert.equal(failed?.payload.errorType, 'ReviewRejected');
    assert.equal(failed?.payload.stage, 'review');
    assert.equal((failed?.payload.review as { reviewer?: string })?.reviewer, 'rita');
    assert.equal(
      (failed?.payload.review as { comment?: string })?.comment,
      'cites sources that do not exist',
    );
    assert.equal(
      (await listMail(testEndpoints.maildevApi)).filter((m) =>
        m.to.some((t) => t.address === started.email),
      ).length,
      0,
      'a rejected report is never mailed',
    );
  });

  for (const onTimeout of ['APPROVE', 'REJECT'] as const) {
    it(`nobody decides within the timeout: ${onTimeout}, recorded as automatic`, async () => {
      const started = await start(
        { reviewers: ['rita'], timeoutSeconds: 3, onTimeout },
        `timeout-${onTimeout}`,
      );
      const ended = (await waitForEnd(api, started.links.status)) as unknown as Status;
      assert.equal(ended.status, onTimeout === 'APPROVE' ? 'COMPLETED' : 'REJECTED');
      const decision = ended.review?.decision;
      assert.equal(decision?.decision, onTimeout);
      assert.equal(decision?.automatic, true);
      assert.equal(decision?.reviewer, undefined);
      assert.ok((decision?.waitedMs ?? 0) >= 3000, `waited ${decision?.waitedMs} ms`);
      const stored = await row(started.reportId);
      assert.equal(stored.reviewDecision, onTimeout);
      assert.equal(stored.reviewAutomatic, true);
      assert.equal(stored.reviewedBy, null);
      if (onTimeout === 'APPROVE')
        await findMail(testEndpoints.maildevApi, (m) =>
          m.to.some((t) => t.address === started.email),
        );
      const late = await decide(started, { reviewer: 'rita', decision: 'APPROVE' });
      assert.equal(late.status, 409, 'nothing to decide once ended');
      await late.arrayBuffer();
    });
  }

  it('a decision sent while every worker is down is held (202) and applied when one comes back', async () => {
    const started = await start(
      { reviewers: ['rita'], timeoutSeconds: 600, onTimeout: 'REJECT' },
      'workers-down',
    );
    await awaitingReview(started);
    await api.stopWorkers();

    const held = await decide(started, { reviewer: 'rita', decision: 'APPROVE', comment: 'ok' });
    assert.equal(held.status, 202);
    assert.equal(((await held.json()) as { status: string }).status, 'SUBMITTED');
    await sleep(5_000);
    const still = await api.call(started.links.status);
    assert.equal(still.status, 200);
    assert.notEqual(((await still.json()) as Status).status, 'COMPLETED', 'no worker, no progress');

    await api.startWorker();
    const ended = (await waitForEnd(api, started.links.status)) as unknown as Status;
    assert.equal(ended.status, 'COMPLETED');
    assert.equal(ended.review?.decision?.reviewer, 'rita');
    assert.equal(ended.review?.decision?.comment, 'ok');
    await findMail(testEndpoints.maildevApi, (m) => m.to.some((t) => t.address === started.email));
  });

  it('the request schema with review is a new BACKWARD-compatible version of the one without', async () => {
    const registry = createSchemaRegistry(api.config.SCHEMA_REGISTRY_URL);
    const subject = `${uniqueName('review-schema')}-value`;
    const current = JSON.parse(reportRequestedSchema) as { fields: { name: string }[] };
    const before = { ...current, fields: current.fields.filter((f) => f.name !== 'review') };
    const v1 = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(before) },
      { subject },
    );
    const v2 = await registry.register(
      { type: SchemaType.AVRO, schema: reportRequestedSchema },
      { subject },
    );
    assert.notEqual(v2.id, v1.id);
    const versions = (await (
      await fetch(`${api.config.SCHEMA_REGISTRY_URL}/subjects/${subject}/versions`)
    ).json()) as number[];
    assert.equal(versions.length, 2);
  });
});
