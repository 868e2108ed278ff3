import { extractText, getDocumentProxy } from 'unpdf';
import type { DataSource } from 'typeorm';

export async function pdfText(data: Buffer): Promise<{ text: string; pages: number }> {
  const pdf = await getDocumentProxy(new Uint8Array(data));
  const { text, totalPages } = await extractText(pdf, { mergePages: true });
  return { text, pages: totalPages };
}

/** Row counts of what a report leaves behind, by reportId. */
export async function leftovers(dataSource: DataSource, reportId: string) {
  const count = async (sql: string): Promise<number> =>
    Number((await dataSource.query<{ n: string }[]>(sql, [reportId]))[0]?.n ?? 0);
  return {
    reports: await count(`SELECT count(*) AS n FROM reports WHERE id = $1`),
    content: await count(
      `SELECT count(*) AS n FROM report_files WHERE report_id = $1 AND kind = 'content'`,
    ),
    pdf: await count(
      `SELECT count(*) AS n FROM report_files WHERE report_id = $1 AND kind = 'pdf'`,
    ),
    emails: await count(`SELECT count(*) AS n FROM email_ledger WHERE report_id = $1`),
  };
}

export async function outboxEvents(dataSource: DataSource, reportId: string) {
  return dataSource.query<
    { event_id: string; event_type: string; payload: Record<string, unknown> }[]
  >(`SELECT event_id, event_type, payload FROM outbox WHERE message_key = $1 ORDER BY id`, [
    reportId,
  ]);
}
