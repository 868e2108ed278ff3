import { renderReportPdf } from '../src/activities/pdf/render-report-pdf';

/**
 * Render time of a report of about 20 pages (headings, paragraphs, lists, code), in process.
 *   ./dev npm run bench:pdf
 */
const sections = Array.from({ length: 32 }, (_, i) =>
  [
    `## Section ${i + 1}: findings and their context`,
    '',
    'Solid-state cells replace the liquid electrolyte with a solid one. '.repeat(12),
    '',
    '- a first point that is long enough to wrap once on the page',
    '- a second point with **bold** text and `inline code`',
    '',
    '```',
    `capacity_${i} = cells * 4.2 * 3.1  # Wh`,
    '```',
    '',
    'Manufacturing at scale remains the open question for the next years. '.repeat(8),
  ].join('\n'),
);
const content = `# A long report\n\n${sections.join('\n\n')}`;

async function main(): Promise<void> {
  const runs = 10;
  const times: number[] = [];
  let pages = 0;
  let bytes = 0;
  for (let i = 0; i <= runs; i++) {
    const started = performance.now();
    const pdf = await renderReportPdf({
      title: 'A long report',
      content,
      metadata: [['Report', 'bench']],
      createdAt: new Date(0),
    });
    if (i > 0) times.push(performance.now() - started);
    pages = pdf.pages;
    bytes = pdf.data.length;
  }
  times.sort((a, b) => a - b);
  process.stdout.write(
    `PDF render, ${pages} pages (${Math.round(bytes / 1024)} KiB): median ${times[Math.floor(runs / 2)]!.toFixed(0)} ms, min ${times[0]!.toFixed(0)} ms, max ${times.at(-1)!.toFixed(0)} ms over ${runs} runs\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
