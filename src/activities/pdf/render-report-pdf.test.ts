import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractText, getDocumentProxy } from 'unpdf';
import { parseBlocks, renderReportPdf } from './render-report-pdf';

async function textOf(data: Buffer): Promise<string> {
  const { text } = await extractText(await getDocumentProxy(new Uint8Array(data)), {
    mergePages: true,
  });
  return text;
}

describe('parseBlocks', () => {
  it('reads headings, paragraphs, both kinds of list and fenced code', () => {
    const blocks = parseBlocks(
      [
        '# Title',
        '',
        'First line',
        'continues.',
        '',
        '- a',
        '- b',
        '  more of b',
        '1. one',
        '2) two',
        '```',
        'x = 1',
        '',
        'y = 2',
        '```',
        '### Small',
      ].join('\n'),
    );
    assert.deepEqual(blocks, [
      { kind: 'heading', level: 1, text: 'Title' },
      { kind: 'paragraph', text: 'First line continues.' },
      { kind: 'list', ordered: false, items: ['a', 'b more of b'] },
      { kind: 'list', ordered: true, items: ['one', 'two'] },
      { kind: 'code', text: 'x = 1\n\ny = 2' },
      { kind: 'heading', level: 3, text: 'Small' },
    ]);
  });

  it('keeps an unterminated code fence as code to the end', () => {
    assert.deepEqual(parseBlocks('```\nlet a;'), [{ kind: 'code', text: 'let a;' }]);
  });
});

describe('renderReportPdf', () => {
  const metadata: [string, string][] = [['Report', 'r-1']];

  it('renders accented Latin, Greek and Cyrillic as text, and numbers its pages', async () => {
    const content =
      '## Café à Zürich\n\nŁódź, São Paulo, naïve, Ελληνικά, Русский.\n\n- **bold** and `code`';
    const pdf = await renderReportPdf({
      title: 'Résumé',
      content,
      metadata,
      createdAt: new Date(0),
    });
    const text = await textOf(pdf.data);
    for (const word of [
      'Résumé',
      'Café à Zürich',
      'Łódź',
      'São Paulo',
      'naïve',
      'Ελληνικά',
      'Русский',
      'bold',
      'code',
    ]) {
      assert.ok(text.includes(word), `${word} in ${text}`);
    }
    assert.equal(pdf.unrenderableChars, 0);
    assert.match(text, /Page 1 of 1/);
  });

  it('prints characters the font lacks as "?" and counts them', async () => {
    const pdf = await renderReportPdf({
      title: 'T',
      content: 'Tokyo 東京 🚀',
      metadata,
      createdAt: new Date(0),
    });
    assert.equal(pdf.unrenderableChars, 3);
    assert.match(await textOf(pdf.data), /Tokyo \?\? \?/);
  });

  it('breaks long content over numbered pages', async () => {
    const content = Array.from(
      { length: 40 },
      (_, i) => `## Section ${i + 1}\n\n${'Words of a paragraph. '.repeat(40)}`,
    ).join('\n\n');
    const pdf = await renderReportPdf({ title: 'Long', content, metadata, createdAt: new Date(0) });
    assert.ok(pdf.pages >= 10, `${pdf.pages} pages`);
    assert.match(await textOf(pdf.data), new RegExp(`Page ${pdf.pages} of ${pdf.pages}`));
  });
});
