import { dirname, join } from 'node:path';
import * as fontkit from 'fontkit';
import PDFDocument from 'pdfkit';

/**
 * Renders a report's markdown-like content into an A4 PDF: a title block with the request's
 * metadata, headings, paragraphs, bullet and numbered lists, code blocks, and "page N of M"
 * footers. Text is set in DejaVu Sans (Latin with all its accents, Greek, Cyrillic); a
 * character the font has no glyph for (CJK, most Indic scripts, emoji) is printed as '?' and
 * counted, rather than silently dropped.
 */

export interface ReportPdfInput {
  title: string;
  content: string;
  metadata: [label: string, value: string][];
  /** Fixed creation date, so the same report renders to the same document. */
  createdAt: Date;
}

export interface RenderedPdf {
  data: Buffer;
  pages: number;
  unrenderableChars: number;
}

const fontDir = join(dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
const fonts = {
  body: join(fontDir, 'DejaVuSans.ttf'),
  bold: join(fontDir, 'DejaVuSans-Bold.ttf'),
  italic: join(fontDir, 'DejaVuSans-Oblique.ttf'),
  mono: join(fontDir, 'DejaVuSansMono.ttf'),
};
const coverage = fontkit.openSync(fonts.body) as fontkit.Font;
const monoCoverage = fontkit.openSync(fonts.mono) as fontkit.Font;

const MARGIN = 64;
const colours = {
  text: '#1f2328',
  muted: '#57606a',
  rule: '#d0d7de',
  codeBg: '#f6f8fa',
  accent: '#0b4f8a',
};

type Block =
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'list'; ordered: boolean; items: string[] }
  | { kind: 'code'; text: string };

/** A small, forgiving reader of the markdown subset LLMs write. */
export function parseBlocks(content: string): Block[] {
  const blocks: Block[] = [];
  const lines = content.replaceAll('\r\n', '\n').split('\n');
  let paragraph: string[] = [];
  const flush = (): void => {
    if (paragraph.length > 0) blocks.push({ kind: 'paragraph', text: paragraph.join(' ') });
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      flush();
      const code: string[] = [];
      for (i++; i < lines.length && !lines[i]!.trimStart().startsWith(fence[1]!); i++)
        code.push(lines[i]!);
      blocks.push({ kind: 'code', text: code.join('\n') });
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      blocks.push({ kind: 'heading', level: heading[1]!.length, text: heading[2]!.trim() });
      continue;
    }
    const item = /^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/.exec(line);
    if (item) {
      flush();
      const ordered = item[2] !== undefined;
      const last = blocks.at(-1);
      if (last?.kind === 'list' && last.ordered === ordered) last.items.push(item[3]!);
      else blocks.push({ kind: 'list', ordered, items: [item[3]!] });
      continue;
    }
    if (line.trim() === '') {
      flush();
      continue;
    }
    const last = blocks.at(-1);
    // An indented line right after a list item continues that item.
    if (paragraph.length === 0 && last?.kind === 'list' && /^\s{2,}\S/.test(line)) {
      last.items[last.items.length - 1] += ` ${line.trim()}`;
      continue;
    }
    paragraph.push(line.trim());
  }
  flush();
  return blocks;
}

export function renderReportPdf(input: ReportPdfInput): Promise<RenderedPdf> {
  const doc = new PDFDocument({
    size: 'A4',
    margins: { top: MARGIN, bottom: MARGIN, left: MARGIN, right: MARGIN },
    bufferPages: true,
    info: {
      Title: input.title,
      Creator: 'report-pipeline',
      CreationDate: input.createdAt,
      ModDate: input.createdAt,
    },
  });
  doc.registerFont('body', fonts.body);
  doc.registerFont('bold', fonts.bold);
  doc.registerFont('italic', fonts.italic);
  doc.registerFont('mono', fonts.mono);

  let unrenderable = 0;
  const safe = (text: string, font: fontkit.Font = coverage): string =>
    Array.from(text, (ch) => {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x20 || font.hasGlyphForCodePoint(cp)) return ch;
      unrenderable += 1;
      return '?';
    }).join('');

  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const width = doc.page.width - 2 * MARGIN;

  /** Writes text with **bold** and `code` spans. */
  const inline = (text: string, options: PDFKit.Mixins.TextOptions = {}): void => {
    const parts = text.split(/(\*\*[^*]+\*\*|`[^`]+`)/).filter((p) => p !== '');
    if (parts.length === 0) parts.push('');
    parts.forEach((part, index) => {
      const continued = index < parts.length - 1;
      if (part.startsWith('**') && part.endsWith('**') && part.length > 4) {
        doc.font('bold').text(safe(part.slice(2, -2)), { ...options, continued });
      } else if (part.startsWith('`') && part.endsWith('`') && part.length > 2) {
        doc.font('mono').text(safe(part.slice(1, -1), monoCoverage), { ...options, continued });
      } else {
        doc.font('body').text(safe(part), { ...options, continued });
      }
    });
    doc.font('body');
  };

  doc.fillColor(colours.accent).font('bold').fontSize(22).text(safe(input.title), { width });
  doc.moveDown(0.5);
  doc.fontSize(9).fillColor(colours.muted);
  for (const [label, value] of input.metadata) {
    doc
      .font('bold')
      .text(`${safe(label)}: `, { continued: true })
      .font('body')
      .text(safe(value));
  }
  doc.moveDown(0.5);
  doc
    .moveTo(MARGIN, doc.y)
    .lineTo(MARGIN + width, doc.y)
    .strokeColor(colours.rule)
    .lineWidth(1)
    .stroke();
  doc.moveDown(1);

  const blocks = parseBlocks(input.content);
  // The title block already carries the report's title; do not repeat a leading "# Title".
  if (blocks[0]?.kind === 'heading' && blocks[0].level === 1 && blocks[0].text === input.title)
    blocks.shift();

  for (const block of blocks) {
    switch (block.kind) {
      case 'heading': {
        const size = ({ 1: 18, 2: 15, 3: 13 } as Record<number, number>)[block.level] ?? 12;
        doc
          .moveDown(0.6)
          .fillColor(colours.text)
          .font('bold')
          .fontSize(size)
          .text(safe(block.text), { width });
        doc.moveDown(0.3);
        break;
      }
      case 'paragraph':
        doc.fillColor(colours.text).fontSize(11);
        inline(block.text, { width, align: 'left', lineGap: 2 });
        doc.moveDown(0.6);
        break;
      case 'list':
        doc.fillColor(colours.text).fontSize(11);
        block.items.forEach((item, index) => {
          const marker = block.ordered ? `${index + 1}.` : '•';
          const y = doc.y;
          doc.font('body').text(marker, MARGIN + 6, y, { width: 18 });
          doc.x = MARGIN + 24;
          doc.y = y;
          inline(item, { width: width - 24, lineGap: 2 });
          doc.x = MARGIN;
          doc.moveDown(0.2);
        });
        doc.x = MARGIN;
        doc.moveDown(0.4);
        break;
      case 'code': {
        doc.font('mono').fontSize(9);
        const text = safe(block.text || ' ', monoCoverage);
        const height = doc.heightOfString(text, { width: width - 16 }) + 12;
        if (doc.y + height > doc.page.height - MARGIN) doc.addPage();
        const top = doc.y;
        doc.rect(MARGIN, top, width, height).fill(colours.codeBg);
        doc.fillColor(colours.text).text(text, MARGIN + 8, top + 6, { width: width - 16 });
        doc.x = MARGIN;
        doc.y = top + height;
        doc.moveDown(0.6);
        break;
      }
    }
  }

  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    // Writing inside the bottom margin would start a new page; lift the margin while we do.
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc
      .font('body')
      .fontSize(8)
      .fillColor(colours.muted)
      .text(`Page ${i + 1} of ${range.count}`, MARGIN, doc.page.height - MARGIN / 2, {
        width,
        align: 'center',
      });
    doc.page.margins.bottom = bottom;
  }
  doc.end();
  return done.then((data) => ({ data, pages: range.count, unrenderableChars: unrenderable }));
}
