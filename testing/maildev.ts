import { setTimeout as sleep } from 'node:timers/promises';

/** The parts of maildev's GET /email answer that tests read. */
export interface ReceivedMail {
  id: string;
  subject: string;
  messageId?: string;
  to: { address: string; name?: string }[];
  from: { address: string; name?: string }[];
  text?: string;
  html?: string;
  headers: Record<string, string>;
  attachments?: { fileName: string; contentType: string; length?: number }[];
}

export async function listMail(apiUrl: string): Promise<ReceivedMail[]> {
  const res = await fetch(`${apiUrl}/email`);
  if (!res.ok) throw new Error(`maildev answered ${res.status}`);
  return (await res.json()) as ReceivedMail[];
}

/** Waits (bounded) for a mail that matches; SMTP delivery to maildev is asynchronous. */
export async function findMail(
  apiUrl: string,
  match: (mail: ReceivedMail) => boolean,
  timeoutMs = 10_000,
): Promise<ReceivedMail> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = (await listMail(apiUrl)).find(match);
    if (found) return found;
    await sleep(200);
  }
  throw new Error(`no matching mail arrived in maildev within ${timeoutMs} ms`);
}

/**
 * Every mail to `address`, once at least one has arrived; maildev stores a mail a moment after
 * accepting it over SMTP, so a count read straight after sending could come up short.
 * Use it to count mails; to prove none arrived, list them.
 */
export async function mailTo(apiUrl: string, address: string): Promise<ReceivedMail[]> {
  await findMail(apiUrl, (m) => m.to.some((t) => t.address === address));
  // A duplicate, were one sent, would have been accepted before the first was stored.
  await sleep(300);
  return (await listMail(apiUrl)).filter((m) => m.to.some((t) => t.address === address));
}
