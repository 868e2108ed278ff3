import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { config, testEndpoints, uniqueName } from '../../testing/stack-env';
import { findMail } from '../../testing/maildev';

describe('SMTP server (maildev)', () => {
  it('receives a mail sent with nodemailer, visible through its API', async (t) => {
    const transport = nodemailer.createTransport(config.SMTP_URL);
    t.after(() => transport.close());
    const subject = uniqueName('smoke mail');
    const sent = await transport.sendMail({
      from: config.MAIL_FROM,
      to: 'analyst@example.com',
      subject,
      text: 'Plain body',
      html: '<p>HTML body</p>',
      attachments: [{ filename: 'note.txt', content: 'attached' }],
    });
    assert.deepEqual(sent.accepted, ['analyst@example.com']);

    const mail = await findMail(testEndpoints.maildevApi, (m) => m.subject === subject);
    assert.equal(mail.to[0]?.address, 'analyst@example.com');
    assert.match(mail.text ?? '', /Plain body/);
    assert.deepEqual(
      mail.attachments?.map((a) => a.fileName),
      ['note.txt'],
    );
  });
});
