import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Transporter } from 'nodemailer';
import { modelCredit, type NotificationResult } from '../domain/report';
import type { EmailLedger } from '../storage/email-ledger';
import type { ReportFileStore } from '../storage/report-file-store';

export interface SendNotificationInput {
  reportId: string;
  to: string;
  title: string;
  pages: number;
  /** The model that wrote the report and what to know about it; absent in older histories. */
  model?: string;
  modelNote?: string;
}

export interface MailSettings {
  from: string;
  attachPdf: boolean;
  publicBaseUrl: string;
}

/** The same report always gets the same Message-ID, so even a receiving system can dedupe. */
export function messageIdFor(reportId: string, from: string): string {
  const domain = from.split('@')[1] ?? 'report-pipeline.local';
  return `<report-${reportId}@${domain}>`;
}

export const subjectFor = (title: string): string => `Your report is ready: ${title}`;

export const pagesText = (pages: number): string => `${pages} ${pages === 1 ? 'page' : 'pages'}`;

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

export function createSendNotificationActivity(deps: {
  mailer: Pick<Transporter, 'sendMail'>;
  ledger: Pick<EmailLedger, 'claim' | 'settle'>;
  files: Pick<ReportFileStore, 'find'>;
  settings: MailSettings;
}) {
  return async function sendNotification(
    input: SendNotificationInput,
  ): Promise<NotificationResult & { attempt: number }> {
    const { info, log } = Context.current();
    const messageId = messageIdFor(input.reportId, deps.settings.from);
    const subject = subjectFor(input.title);
    const base = { messageId, to: input.to, subject, attempt: info.attempt };

    const claim = await deps.ledger.claim({
      reportId: input.reportId,
      messageId,
      recipient: input.to,
      subject,
    });
    if (claim.outcome === 'already-sent') {
      log.info('notification already sent; not sending again', {
        reportId: input.reportId,
        messageId,
      });
      return { ...base, status: 'SENT', alreadySent: true };
    }
    if (claim.outcome === 'in-doubt') {
      // An earlier attempt died between claiming and settling: the mail may have gone out.
      // Sending again could deliver it twice, so the notification is reported as failed instead.
      const error =
        'an earlier attempt was interrupted while sending; not sent again to avoid a duplicate';
      log.warn(error, { reportId: input.reportId, messageId });
      return { ...base, status: 'FAILED', alreadySent: false, error };
    }

    const pdfUrl = `${deps.settings.publicBaseUrl}/api/reports/${input.reportId}/pdf`;
    let pdf: Awaited<ReturnType<typeof deps.files.find>>;
    try {
      pdf = deps.settings.attachPdf ? await deps.files.find(input.reportId, 'pdf') : undefined;
    } catch (error: unknown) {
      // Nothing was sent: the claim is settled as failed so that the retry sends, instead of
      // finding it in doubt and reporting a mail that never went as failed.
      await deps.ledger.settle(input.reportId, { sent: false, error: String(error) });
      throw error;
    }
    const where = pdf ? 'The PDF is attached.' : `Download the PDF: ${pdfUrl}`;
    const author = input.model && `Written by ${modelCredit(input.model, input.modelNote)}.`;
    try {
      await deps.mailer.sendMail({
        from: deps.settings.from,
        to: input.to,
        subject,
        messageId,
        text: [
          `Your report "${input.title}" (${pagesText(input.pages)}) is ready.`,
          ...(author ? [author] : []),
          where,
          `Report id: ${input.reportId}`,
        ].join('\n\n'),
        html:
          `<p>Your report <strong>${escapeHtml(input.title)}</strong> (${pagesText(input.pages)}) is ready.</p>` +
          (author ? `<p>${escapeHtml(author)}</p>` : '') +
          (pdf
            ? '<p>The PDF is attached.</p>'
            : `<p><a href="${escapeHtml(pdfUrl)}">Download the PDF</a></p>`) +
          `<p style="color:#57606a">Report id: ${input.reportId}</p>`,
        attachments: pdf
          ? [
              {
                filename: `report-${input.reportId}.pdf`,
                content: pdf.data,
                contentType: 'application/pdf',
              },
            ]
          : [],
      });
    } catch (error: unknown) {
      const message = error instanceof Error ? error.message : String(error);
      await deps.ledger.settle(input.reportId, { sent: false, error: message });
      const responseCode = (error as { responseCode?: number }).responseCode;
      // 5xx from the server (unknown mailbox, policy rejection) will not change on retry.
      if (responseCode !== undefined && responseCode >= 500) {
        throw ApplicationFailure.nonRetryable(
          `SMTP refused the message (${responseCode}): ${message}`,
          'SmtpRejected',
        );
      }
      throw error;
    }
    await deps.ledger.settle(input.reportId, { sent: true });
    log.info('notification sent', {
      reportId: input.reportId,
      messageId,
      attachedPdf: Boolean(pdf),
    });
    return { ...base, status: 'SENT', alreadySent: false };
  };
}
