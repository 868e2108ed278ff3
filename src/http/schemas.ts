import { z } from 'zod';
import { REPORT_STATUSES, STAGES } from '../domain/report';
import type { ReportStatusView } from '../domain/report-status';
import { workflowIdFor } from '../domain/ids';
import { PRIORITY_KEYS, type PriorityLevel } from '../domain/priority';
import {
  correlationIdField,
  idempotencyKeyField,
  KEY_CHARACTERS,
  KEY_MAX_LENGTH,
  optionFields,
  promptField,
  requesterField,
  reviewCommentField,
  reviewerField,
  reviewField,
  reviewVerdictField,
} from '../domain/request-fields';

/**
 * The API's contract: requests are validated against these schemas, responses are serialised
 * through them, and the OpenAPI document is generated from them.
 */

const stage = z.enum(STAGES);
const reportStatus = z.enum(REPORT_STATUSES);
const finalStatus = z.enum(['COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED']);

/** Strict: a field the API does not know (a misspelt `maxToken`, say) is a 400 naming it. */
export const generateReportBody = z
  .strictObject({
    prompt: promptField,
    requester: requesterField.strict(),
    options: z
      .strictObject({
        model: optionFields.model.optional(),
        maxTokens: optionFields.maxTokens.optional(),
        language: optionFields.language.optional(),
      })
      .optional(),
    correlationId: correlationIdField.optional(),
    review: reviewField.optional(),
  })
  .meta({ id: 'GenerateReportRequest' });

export const idempotencyKeyHeader = idempotencyKeyField.optional().meta({
  description:
    'Makes retries safe: the same key and body return the same workflow. Without it the key is derived from the body.',
});

export const workflowIdParams = z.object({
  id: z
    .string()
    .regex(
      new RegExp(`^${workflowIdFor('')}[${KEY_CHARACTERS}]{1,${KEY_MAX_LENGTH}}$`),
      'expected a workflow id such as report-<key>',
    )
    .meta({ description: 'Workflow id, `report-<idempotencyKey>`' }),
});

export const reportIdParams = z.object({
  id: z.uuid().meta({ description: 'Report id (a UUID)' }),
});

const links = z.object({
  status: z.string(),
  result: z.string(),
  events: z.string(),
  cancel: z.string(),
  pdf: z.string(),
});

export const startedReport = z
  .object({
    workflowId: z.string(),
    reportId: z.uuid(),
    idempotencyKey: z.string(),
    created: z.boolean().meta({ description: 'False when the key already had a workflow' }),
    links,
  })
  .meta({ id: 'StartedReport' });

const timing = z.object({
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  durationMs: z.number().optional(),
  attempts: z.number().int(),
});

const reviewDecision = z
  .object({
    decision: reviewVerdictField,
    reviewer: z.string().optional().meta({ description: 'Absent when the timeout decided' }),
    automatic: z.boolean(),
    comment: z.string().optional(),
    decidedAt: z.string(),
    waitedMs: z.number(),
  })
  .meta({ id: 'ReviewDecision' });

const reviewState = z
  .object({
    reviewers: z.array(z.string()),
    onTimeout: reviewVerdictField,
    waitingSince: z.string(),
    deadline: z.string().meta({ description: 'When onTimeout applies if nobody has decided' }),
    decision: reviewDecision.optional(),
  })
  .meta({ id: 'ReviewState' });

const failure = z.object({ stage: stage, errorType: z.string(), message: z.string() });

const priority = z
  .object({
    level: z.enum(Object.keys(PRIORITY_KEYS) as [PriorityLevel, ...PriorityLevel[]]),
    key: z.number().int().meta({ description: 'Temporal’s priority key; 1 is served first' }),
    fairnessKey: z
      .string()
      .optional()
      .meta({ description: 'The requester, whose turn the report’s tasks take' }),
    fairnessWeight: z.number().optional().meta({
      description: 'The requester’s share of the workers (FAIRNESS_WEIGHTS; 1 unless set)',
    }),
  })
  .meta({
    id: 'Priority',
    description:
      'How Temporal orders the report’s tasks: INTERACTIVE (runs from the API) before HIGH, NORMAL and LOW (Kafka requests), and requesters in weighted turns within a level',
  });
const usage = z.object({ promptTokens: z.number().int(), completionTokens: z.number().int() });
const estimatedCost = z
  .object({
    usd: z.number().nullable().meta({
      description: 'US dollars; null when no price is known for the model (not free: unknown)',
    }),
    pricedAs: z.string().optional().meta({
      description: 'The price list’s model it was priced as (a dated name by its family)',
    }),
  })
  .meta({
    id: 'CostEstimate',
    description:
      'An estimate of what the tokens cost at list prices per million tokens (or TOKEN_PRICES_USD_PER_MILLION), not a bill',
  });

export const reportStatusView = z
  .object({
    workflowId: z.string(),
    reportId: z.uuid(),
    status: reportStatus,
    stage: z.union([stage, z.literal('done')]),
    progress: z
      .number()
      .min(0)
      .max(1)
      .meta({ description: 'Share of the report’s stages finished (five, six with review)' }),
    stagesCompleted: z.array(stage),
    timings: z.record(z.string(), timing),
    current: z
      .object({
        activity: z.string(),
        attempt: z.number().int(),
        lastFailure: z.string().optional(),
      })
      .optional()
      .meta({ description: 'The activity running now, with its attempt number' }),
    usage: usage.optional().meta({ description: 'Tokens, as the model reported them' }),
    estimatedCost: estimatedCost.optional(),
    model: z
      .string()
      .optional()
      .meta({ description: 'The model that wrote the report, as the LLM provider reported it' }),
    modelNote: z
      .string()
      .optional()
      .meta({ description: 'What to know about that model (LLM_MODEL_NOTE)' }),
    notification: z.enum(['SENT', 'FAILED', 'SKIPPED']).optional(),
    failure: failure.optional(),
    compensated: z.array(z.string()),
    review: reviewState
      .optional()
      .meta({ description: 'When the request asked for review: who, until when, the decision' }),
    priority: priority,
    startedAt: z.string(),
    closedAt: z.string().optional(),
  })
  .meta({ id: 'ReportStatus' });

export const reportResultView = reportStatusView
  .extend({
    status: finalStatus,
    title: z.string().optional(),
    pdf: z
      .object({
        url: z.string(),
        bytes: z.number().int(),
        pages: z.number().int(),
        sha256: z.string(),
      })
      .optional(),
  })
  .meta({ id: 'ReportResult' });

/**
 * One server-sent event of /events, as a client parses it: `progress` and `end` carry a
 * ReportStatus as JSON, `error` says the stream broke and the client should reconnect.
 */
const jsonData = (schemaId: string, description: string) =>
  z.string().meta({
    description,
    contentMediaType: 'application/json',
    contentSchema: { $ref: `#/components/schemas/${schemaId}` },
  });

export const progressEvent = z
  .discriminatedUnion('event', [
    z.object({
      event: z.literal('progress'),
      data: jsonData('ReportStatus', 'The status, whenever it changes while the report runs'),
    }),
    z.object({
      event: z.literal('end'),
      data: jsonData('ReportStatus', 'The final status; the stream closes after it'),
    }),
    z.object({
      event: z.literal('error'),
      data: jsonData('StreamError', 'Progress could not be read; reconnect'),
    }),
  ])
  .meta({ id: 'ProgressEvent' });

export const streamError = z
  .object({ code: z.literal('INTERNAL_ERROR'), message: z.string() })
  .meta({ id: 'StreamError' });

export const reportListQuery = z.object({
  status: reportStatus.optional(),
  requesterId: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .max(2000)
    .regex(/^[A-Za-z0-9_-]+$/, 'expected a nextCursor as the previous page gave it')
    .optional()
    .meta({
      description:
        'The previous page’s nextCursor, as given; any other value is refused with 400 INVALID_CURSOR',
    }),
});

export const reportListView = z
  .object({
    reports: z.array(
      z.object({
        workflowId: z.string(),
        reportId: z.uuid(),
        status: reportStatus,
        stage: z
          .union([stage, z.literal('done')])
          .optional()
          .meta({ description: 'As in the status: the running stage, or done once it has ended' }),
        requesterId: z.string().optional(),
        title: z.string().optional(),
        pages: z.number().int().optional(),
        startedAt: z.string(),
        closedAt: z.string().optional(),
        links: links,
      }),
    ),
    nextCursor: z.string().optional(),
  })
  .meta({ id: 'ReportList' });

/** A decision sent through the API; who decides is named, as the request's reviewers are. */
export const reviewDecisionBody = z
  .strictObject({
    reviewer: reviewerField.meta({ description: 'One of the report’s reviewers' }),
    decision: reviewVerdictField,
    comment: reviewCommentField
      .optional()
      .meta({ description: 'Why; carried by the report’s result, its event and its row' }),
  })
  .meta({ id: 'ReviewDecisionRequest' });

export const reviewDecided = z
  .object({
    workflowId: z.string(),
    status: z.literal('DECIDED'),
    review: reviewDecision,
    links,
  })
  .meta({ id: 'ReviewDecided' });

export const reviewSubmitted = z
  .object({
    workflowId: z.string(),
    status: z.literal('SUBMITTED'),
    links,
  })
  .meta({ id: 'ReviewSubmitted' });

export const pendingReviewsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const pendingReviewsView = z
  .object({
    reviews: z.array(
      z.object({
        workflowId: z.string(),
        reportId: z.uuid(),
        title: z.string().optional(),
        requesterId: z.string(),
        pages: z.number().int().optional(),
        reviewers: z.array(z.string()),
        onTimeout: reviewVerdictField,
        waitingSince: z.string(),
        deadline: z.string(),
        links: links.extend({ review: z.string() }),
      }),
    ),
  })
  .meta({ id: 'PendingReviews' });

export type { ReportStatusView };
export type PendingReviewsView = z.output<typeof pendingReviewsView>;
export type ReportResultView = z.output<typeof reportResultView>;
export type ReportListView = z.output<typeof reportListView>;
export type ReportListQuery = z.output<typeof reportListQuery>;
export type Links = z.output<typeof links>;

/** True only when A and B are the same type, field for field and optional for optional. */
type Identical<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
// The reader builds the domain's view and this schema serialises it, dropping what it does not
// name: this stops compiling when the two drift apart.
const _statusSchemaAgrees: Identical<z.output<typeof reportStatusView>, ReportStatusView> = true;

export function linksFor(workflowId: string, reportId: string): Links {
  const base = `/api/workflows/${encodeURIComponent(workflowId)}`;
  return {
    status: `${base}/status`,
    result: `${base}/result`,
    events: `${base}/events`,
    cancel: `${base}/cancel`,
    pdf: `/api/reports/${reportId}/pdf`,
  };
}

/** Where a report's review decision is sent. */
export const reviewLinkFor = (workflowId: string): string =>
  `/api/workflows/${encodeURIComponent(workflowId)}/review`;
