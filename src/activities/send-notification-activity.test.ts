import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SendNotificationInput } from './send-notification-activity';
import {
  activityEnvironment,
  assertNonRetryable,
  failureOf,
  fakeActivities,
  isRetryable,
  mailSettings,
  smtpError,
} from './testing/fakes';

const input: SendNotificationInput = {
  reportId: 'r-1',
  to: 'ada@example.test',
  title: 'Grid <storage>',
  pages: 3,
  model: 'test-model-2026-01-01',
};

const messageId = '<report-r-1@example.test>';

describe('sendNotification', () => {
  it('sends one mail with the stored PDF attached, and settles the ledger as SENT', async () => {
    const { activities, mailer, ledger, files } = fakeActivities();
    await files.save('r-1', 'pdf', Buffer.from('%PDF'), 'application/pdf');

    const result = await activityEnvironment().run(activities.sendNotification, input);

    assert.deepEqual(result, {
      messageId,
      to: 'ada@example.test',
      subject: 'Your report is ready: Grid <storage>',
      attempt: 1,
      status: 'SENT',
      alreadySent: false,
    });
    const [mail] = mailer.sent;
    assert.equal(mailer.sent.length, 1);
    assert.ok(typeof mail?.text === 'string' && typeof mail.html === 'string');
    assert.equal(mail.messageId, messageId);
    assert.equal(mail.from, mailSettings.from);
    assert.match(mail.html, /Grid &lt;storage&gt;/);
    assert.match(mail.text, /Written by test-model-2026-01-01\./);
    assert.deepEqual(
      mail.attachments?.map((a) => [a.filename, a.content]),
      [['report-r-1.pdf', Buffer.from('%PDF')]],
    );
    assert.equal(ledger.entries.get('r-1')?.status, 'SENT');
  });

  it('links to the PDF when it is not to be attached', async () => {
    const { activities, mailer, files } = fakeActivities({
      mailSettings: { ...mailSettings, attachPdf: false },
    });
    await files.save('r-1', 'pdf', Buffer.from('%PDF'), 'application/pdf');

    await activityEnvironment().run(activities.sendNotification, input);

    const [mail] = mailer.sent;
    assert.deepEqual(mail?.attachments, []);
    assert.ok(typeof mail.text === 'string');
    assert.match(
      mail.text,
      /Download the PDF: https:\/\/reports\.example\.test\/api\/reports\/r-1\/pdf/,
    );
  });

  it('run again after sending, does not send a second mail', async () => {
    const { activities, mailer } = fakeActivities();

    const first = await activityEnvironment().run(activities.sendNotification, input);
    const second = await activityEnvironment({ attempt: 2 }).run(
      activities.sendNotification,
      input,
    );

    assert.equal(mailer.sent.length, 1);
    assert.equal(second.status, 'SENT');
    assert.equal(second.alreadySent, true);
    assert.equal(second.messageId, first.messageId);
  });

  it('does not send again after an attempt that died mid-send, and reports it FAILED', async () => {
    const { activities, mailer, ledger } = fakeActivities();
    await ledger.claim({ reportId: 'r-1', messageId, recipient: input.to, subject: 'x' });

    const result = await activityEnvironment({ attempt: 2 }).run(
      activities.sendNotification,
      input,
    );

    assert.equal(mailer.sent.length, 0);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.alreadySent, false);
    assert.match(result.error ?? '', /interrupted while sending/);
  });

  it('fails for good when the SMTP server refuses the message (5xx)', async () => {
    const { activities, mailer, ledger } = fakeActivities();
    mailer.failNext(smtpError('550 mailbox unavailable', 550));

    const error = await failureOf(activityEnvironment().run(activities.sendNotification, input));

    assertNonRetryable(error, 'SmtpRejected');
    assert.deepEqual(
      [ledger.entries.get('r-1')?.status, ledger.entries.get('r-1')?.lastError],
      ['FAILED', '550 mailbox unavailable'],
    );
  });

  for (const error of [smtpError('connect ECONNREFUSED'), smtpError('421 try again later', 421)]) {
    it(`leaves "${error.message}" to the retry policy, and the retry sends`, async () => {
      const { activities, mailer, ledger } = fakeActivities();
      mailer.failNext(error);

      const failure = await failureOf(
        activityEnvironment().run(activities.sendNotification, input),
      );
      assert.equal(failure, error);
      assert.equal(isRetryable(failure), true);
      assert.equal(ledger.entries.get('r-1')?.status, 'FAILED');

      const retried = await activityEnvironment({ attempt: 2 }).run(
        activities.sendNotification,
        input,
      );
      assert.equal(retried.status, 'SENT');
      assert.equal(mailer.sent.length, 1);
      assert.deepEqual(
        [ledger.entries.get('r-1')?.status, ledger.entries.get('r-1')?.attempts],
        ['SENT', 2],
      );
    });
  }

  it(
    // Regression: a failed read of the PDF after the claim left the claim unsettled, so the
    // retry reported a mail that was never sent as failed.
    'a failed PDF read before sending leaves nothing in doubt, and the retry sends',
    async () => {
      const { activities, mailer, files } = fakeActivities();
      files.failNextRead(new Error('Connection terminated unexpectedly'));

      const failure = await failureOf(
        activityEnvironment().run(activities.sendNotification, input),
      );
      assert.equal(isRetryable(failure), true);
      const retried = await activityEnvironment({ attempt: 2 }).run(
        activities.sendNotification,
        input,
      );

      assert.equal(retried.status, 'SENT');
      assert.equal(mailer.sent.length, 1);
    },
  );
});
