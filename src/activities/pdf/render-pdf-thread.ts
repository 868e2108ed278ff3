import { renderReportPdf, type ReportPdfInput } from './render-report-pdf';

/** Runs in a worker thread of the PDF render pool: the render stays off the worker's event loop. */
export async function render(
  input: ReportPdfInput,
): Promise<{ data: Uint8Array; pages: number; unrenderableChars: number }> {
  const rendered = await renderReportPdf(input);
  return {
    data: new Uint8Array(rendered.data),
    pages: rendered.pages,
    unrenderableChars: rendered.unrenderableChars,
  };
}
