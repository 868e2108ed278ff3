import { extname, join } from 'node:path';
import { Piscina } from 'piscina';
import type { render } from './render-pdf-thread';
import type { RenderedPdf, ReportPdfInput } from './render-report-pdf';

/** Renders PDFs; the worker's renders run on a pool of threads sized to the cores. */
export interface PdfRenderer {
  render(input: ReportPdfInput): Promise<RenderedPdf>;
  close(): Promise<void>;
}

/**
 * A render takes ~100 ms of CPU for 20 pages: on the event loop it would stall every
 * heartbeat and LLM stream in flight, so it runs on worker threads, at most one per core.
 */
export function createPdfRenderPool(threads: number): PdfRenderer {
  const pool = new Piscina({
    // The thread file sits beside this one, as .ts under tsx and as .js once built.
    filename: join(__dirname, `render-pdf-thread${extname(__filename)}`),
    name: 'render',
    minThreads: 1,
    maxThreads: threads,
    idleTimeout: 60_000,
    // A thread's heap grows to hundreds of MB before V8 collects with its default sizes; a
    // render needs far less (a 138-page report fits in 64 MB).
    resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 4 },
  });
  return {
    async render(input) {
      const rendered = (await pool.run(input)) as Awaited<ReturnType<typeof render>>;
      return {
        ...rendered,
        data: Buffer.from(rendered.data.buffer, rendered.data.byteOffset, rendered.data.byteLength),
      };
    },
    close: () => pool.destroy(),
  };
}
