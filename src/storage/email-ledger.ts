import type { DataSource } from 'typeorm';
import { EmailLedgerEntry } from '../entities/email-ledger-entry';

export type Claim =
  | { outcome: 'claimed'; attempts: number }
  | { outcome: 'already-sent'; entry: EmailLedgerEntry }
  | { outcome: 'in-doubt'; entry: EmailLedgerEntry };

/** The email a sender claims the right to send. */
export interface EmailClaim {
  reportId: string;
  messageId: string;
  recipient: string;
  subject: string;
}

/** How a claimed send ended. */
export type Settlement = { sent: true } | { sent: false; error: string };

/** A row that could not be claimed: mailed already, or by an attempt that may have mailed. */
export const unclaimable = (existing: EmailLedgerEntry): Claim =>
  existing.status === 'SENT'
    ? { outcome: 'already-sent', entry: existing }
    : { outcome: 'in-doubt', entry: existing };

/**
 * At most one email per report. A sender claims the report's row before talking to SMTP and
 * settles it afterwards; a claim that finds the row SENT, or SENDING from an attempt that never
 * settled (its worker died mid-send), does not send again.
 */
export class EmailLedger {
  constructor(private readonly dataSource: DataSource) {}

  async claim(entry: EmailClaim): Promise<Claim> {
    const rows = await this.dataSource.query<{ attempts: number }[]>(
      `INSERT INTO "email_ledger" ("report_id", "message_id", "recipient", "subject", "status", "attempts")
       VALUES ($1, $2, $3, $4, 'SENDING', 1)
       ON CONFLICT ("report_id") DO UPDATE
         SET "status" = 'SENDING', "attempts" = "email_ledger"."attempts" + 1, "updated_at" = now()
         WHERE "email_ledger"."status" = 'FAILED'
       RETURNING "attempts"`,
      [entry.reportId, entry.messageId, entry.recipient, entry.subject],
    );
    if (rows[0]) return { outcome: 'claimed', attempts: rows[0].attempts };
    const existing = await this.dataSource
      .getRepository(EmailLedgerEntry)
      .findOneByOrFail({ reportId: entry.reportId });
    return unclaimable(existing);
  }

  async settle(reportId: string, result: Settlement): Promise<void> {
    await this.dataSource
      .getRepository(EmailLedgerEntry)
      .update(
        { reportId },
        result.sent
          ? { status: 'SENT', sentAt: new Date(), lastError: null }
          : { status: 'FAILED', lastError: result.error },
      );
  }
}
