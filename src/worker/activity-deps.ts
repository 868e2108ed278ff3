import nodemailer from 'nodemailer';
import OpenAI from 'openai';
import type { DataSource } from 'typeorm';
import type { ActivityDeps } from '../activities';
import { LlmAdmission } from '../activities/llm-admission';
import { createPdfRenderPool } from '../activities/pdf/pdf-render-pool';
import type { WorkerConfig } from '../config/config';
import { outboxEventTopics } from '../contracts';
import { EmailLedger } from '../storage/email-ledger';
import { ReportFileStore } from '../storage/report-file-store';
import { ReportStore } from '../storage/report-store';
import { TokenLedger } from '../storage/token-ledger';

/** The real dependencies of the activities, from configuration; `closeActivityDeps` ends them. */
export function createActivityDeps(config: WorkerConfig, dataSource: DataSource): ActivityDeps {
  return {
    // Retries belong to Temporal's policy, not the client: one attempt per activity attempt.
    llm: new OpenAI({
      apiKey: config.OPENAI_API_KEY,
      baseURL: config.OPENAI_BASE_URL,
      maxRetries: 0,
      timeout: config.OPENAI_TIMEOUT_MS,
    }),
    admission: new LlmAdmission(),
    pdfRenderer: createPdfRenderPool(config.PDF_RENDER_THREADS),
    // Pooled: a few connections kept open and reused. A connection per email cost the SMTP
    // handshake every time (about 100 ms against the dev stack's server, 3 ms once connected).
    mailer: nodemailer.createTransport({
      url: config.SMTP_URL,
      pool: true,
      maxConnections: config.SMTP_MAX_CONNECTIONS,
      connectionTimeout: 5_000,
      greetingTimeout: 5_000,
      socketTimeout: 15_000,
    }),
    files: new ReportFileStore(dataSource),
    reports: new ReportStore(dataSource),
    ledger: new EmailLedger(dataSource),
    tokenLedger: new TokenLedger(dataSource),
    llmSettings: {
      defaultModel: config.OPENAI_MODEL,
      defaultMaxTokens: config.OPENAI_MAX_TOKENS,
      promptMaxChars: config.PROMPT_MAX_CHARS,
      timeoutMs: config.OPENAI_TIMEOUT_MS,
      modelNote: config.LLM_MODEL_NOTE,
    },
    mailSettings: {
      from: config.MAIL_FROM,
      attachPdf: config.MAIL_ATTACH_PDF,
      publicBaseUrl: config.PUBLIC_BASE_URL,
    },
    eventTopics: outboxEventTopics(config),
  };
}

export async function closeActivityDeps(deps: ActivityDeps): Promise<void> {
  deps.mailer.close();
  await deps.pdfRenderer.close();
}
