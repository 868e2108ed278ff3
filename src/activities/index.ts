import type { Transporter } from 'nodemailer';
import type OpenAI from 'openai';
import type { OutboxEventType } from '../entities/outbox-event';
import type { EmailLedger } from '../storage/email-ledger';
import type { ReportFileStore } from '../storage/report-file-store';
import type { ReportStore } from '../storage/report-store';
import type { TokenLedger } from '../storage/token-ledger';
import { createCallLlmActivity, type LlmSettings } from './call-llm-activity';
import type { LlmAdmission } from './llm-admission';
import type { PdfRenderer } from './pdf/pdf-render-pool';
import { createCompensationActivities } from './compensation-activities';
import { createCreatePdfActivity } from './create-pdf-activity';
import { createPublishOutcomeActivity } from './publish-outcome-activity';
import { createReviewActivities } from './review-activities';
import { createSendNotificationActivity, type MailSettings } from './send-notification-activity';
import { createStoreReportMetadataActivity } from './store-report-metadata-activity';

/** Stores and mailer as the methods the activities call, so tests can pass in-memory fakes. */
export interface ActivityDeps {
  llm: OpenAI;
  /** Paces every LLM call of the process to the provider's quota. */
  admission: LlmAdmission;
  pdfRenderer: PdfRenderer;
  /** `close` is the worker's, at shutdown. */
  mailer: Pick<Transporter, 'sendMail' | 'close'>;
  files: Pick<ReportFileStore, 'find' | 'save' | 'delete'>;
  /** The class itself, not its methods, because publishOutcome's own deps still name it. */
  reports: ReportStore;
  ledger: Pick<EmailLedger, 'claim' | 'settle'>;
  /** Where each LLM answer's tokens are recorded as it is paid for (budgets read them). */
  tokenLedger: Pick<TokenLedger, 'record'>;
  llmSettings: LlmSettings;
  mailSettings: MailSettings;
  /** The Kafka topic of each event the outbox announces. */
  eventTopics: Record<OutboxEventType, { topic: string }>;
  /** Told once a report's events are committed to the outbox: the worker wakes its relay. */
  onEventsQueued?: () => void;
}

/** Every activity of GenerateReportWorkflow, over its dependencies. Workflows import only the type. */
export const createActivities = (deps: ActivityDeps) => ({
  callLlm: createCallLlmActivity({ ...deps, settings: deps.llmSettings }),
  createPdf: createCreatePdfActivity(deps),
  storeReportMetadata: createStoreReportMetadataActivity(deps),
  sendNotification: createSendNotificationActivity({ ...deps, settings: deps.mailSettings }),
  publishOutcome: createPublishOutcomeActivity({
    reports: deps.reports,
    topics: deps.eventTopics,
    publicBaseUrl: deps.mailSettings.publicBaseUrl,
    mailFrom: deps.mailSettings.from,
    onEventsQueued: deps.onEventsQueued,
  }),
  ...createReviewActivities(deps),
  ...createCompensationActivities(deps),
});

export type ReportActivities = ReturnType<typeof createActivities>;
