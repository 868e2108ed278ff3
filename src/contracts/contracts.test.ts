import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from 'avsc';
import type { OutboxEventType } from '../entities/outbox-event';
import {
  eventSchemas,
  reportRequestedSchema,
  reviewDecisionSchema,
  type EventPayloads,
  type ReportRequested,
  type ReviewDecisionRecord,
} from '.';

const at = Date.UTC(2026, 10, 22, 9, 30);

/** Every field set, then every optional one unset: a field on one side only fails either way. */
const requested: ReportRequested[] = [
  {
    idempotencyKey: 'order-1',
    prompt: 'Heat pumps in cold climates',
    requester: { id: 'team-a', email: 'a@example.com' },
    options: { model: 'gpt-4o-mini', maxTokens: 2000, language: 'en' },
    requestedAt: at,
    correlationId: 'corr-1',
    review: { reviewers: ['rita', 'omar'], timeoutSeconds: 3600, onTimeout: 'REJECT' },
    priority: 'HIGH',
  },
  {
    idempotencyKey: 'order-2',
    prompt: 'Tidal power',
    requester: { id: 'team-b', email: 'b@example.com' },
    options: { model: null, maxTokens: null, language: null },
    requestedAt: at,
    correlationId: null,
    review: null,
    priority: null,
  },
];

const decisions: ReviewDecisionRecord[] = [
  {
    idempotencyKey: 'order-1',
    reviewer: 'risk-bot',
    decision: 'APPROVE',
    comment: 'within limits',
  },
  { idempotencyKey: 'order-2', reviewer: 'risk-bot', decision: 'REJECT', comment: null },
];

const events: { [T in OutboxEventType]: EventPayloads[T][] } = {
  ReportCompleted: [
    {
      eventId: 'e-1',
      reportId: 'r-1',
      workflowId: 'report-order-1',
      idempotencyKey: 'order-1',
      pdf: { url: 'https://reports.example.com/api/reports/r-1/pdf', bytes: 48_213, pages: 4 },
      usage: { promptTokens: 120, completionTokens: 1_830 },
      model: 'gpt-4o-mini',
      timings: { callLlm: 8_200, createPdf: 310, storeReportMetadata: null },
      completedAt: at,
      review: {
        decision: 'APPROVE',
        reviewer: 'rita',
        automatic: false,
        comment: 'figures checked',
        decidedAt: at,
      },
    },
    {
      eventId: 'e-2',
      reportId: 'r-2',
      workflowId: 'report-order-2',
      idempotencyKey: 'order-2',
      pdf: { url: 'https://reports.example.com/api/reports/r-2/pdf', bytes: 0, pages: 0 },
      usage: { promptTokens: 0, completionTokens: 0 },
      model: null,
      timings: {},
      completedAt: at,
      review: null,
    },
  ],
  ReportFailed: [
    {
      eventId: 'e-3',
      reportId: 'r-3',
      idempotencyKey: 'order-3',
      stage: 'createPdf',
      errorType: 'MissingArtefact',
      message: 'the content is gone',
      compensated: ['deleteContent', 'markRolledBack'],
      failedAt: at,
      review: null,
    },
    {
      eventId: 'e-5',
      reportId: 'r-5',
      idempotencyKey: 'order-5',
      stage: 'review',
      errorType: 'ReviewRejected',
      message: 'rejected in review: REJECT automatically',
      compensated: ['markReportRolledBack', 'deletePdf'],
      failedAt: at,
      review: { decision: 'REJECT', reviewer: null, automatic: true, comment: null, decidedAt: at },
    },
  ],
  EmailNotification: [
    {
      eventId: 'e-4',
      reportId: 'r-1',
      to: 'a@example.com',
      subject: 'Your report is ready',
      messageId: '<r-1@reports.example.com>',
      status: 'SENT',
      at,
    },
  ],
};

/** The .avsc accepts each sample exactly (no field missing, none extra) and reads it back equal. */
function assertSchemaFits(name: string, schema: string, samples: object[]): void {
  const type = Type.forSchema(JSON.parse(schema) as Parameters<typeof Type.forSchema>[0]);
  assert.equal(type.name, `reportpipeline.events.${name}`);
  for (const sample of samples) {
    const mismatched: string[] = [];
    type.isValid(sample, {
      noUndeclaredFields: true,
      errorHook: (path) => mismatched.push(path.join('.') || '(the record itself)'),
    });
    assert.deepEqual(mismatched, [], `${name}: fields where the type and the .avsc differ`);
    const decoded: unknown = type.fromBuffer(type.toBuffer(sample));
    // Records decode into avsc's own classes; JSON compares their fields only.
    assert.deepEqual(JSON.parse(JSON.stringify(decoded)), sample);
  }
}

describe('Avro contracts', () => {
  it('ReportRequested matches avro/report-requested.avsc', () => {
    assertSchemaFits('ReportRequested', reportRequestedSchema, requested);
  });

  it('ReviewDecision matches avro/review-decision.avsc', () => {
    assertSchemaFits('ReviewDecision', reviewDecisionSchema, decisions);
  });

  /** Writes `record` with the current request schema less `dropped`, reads it with the current one. */
  const readAsCurrent = (dropped: string[], record: Record<string, unknown>): unknown => {
    const older = JSON.parse(reportRequestedSchema) as { fields: { name: string }[] };
    older.fields = older.fields.filter((field) => !dropped.includes(field.name));
    const writer = Type.forSchema(older as Parameters<typeof Type.forSchema>[0]);
    const reader = Type.forSchema(
      JSON.parse(reportRequestedSchema) as Parameters<typeof Type.forSchema>[0],
    );
    const read: unknown = reader.fromBuffer(writer.toBuffer(record), reader.createResolver(writer));
    return JSON.parse(JSON.stringify(read));
  };

  it('a request written before review existed reads as one without review or priority', () => {
    const { review: _review, priority: _priority, ...old } = requested[0]!;
    assert.deepEqual(readAsCurrent(['review', 'priority'], old), {
      ...old,
      review: null,
      priority: null,
    });
  });

  it('a request written before priorities existed reads as one without priority', () => {
    const { priority: _priority, ...old } = requested[0]!;
    assert.deepEqual(readAsCurrent(['priority'], old), { ...old, priority: null });
  });

  for (const eventType of Object.keys(events) as OutboxEventType[]) {
    it(`${eventType} has a schema, and its type matches it`, () => {
      assertSchemaFits(eventType, eventSchemas[eventType], events[eventType]);
    });
  }
});
