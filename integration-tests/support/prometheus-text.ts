/** One sample of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+-?\d+)?$/;

/**
 * Parses the Prometheus text exposition format strictly enough to fail on anything a scraper
 * would reject: malformed lines, bad names, samples of an undeclared type, non-numeric values.
 */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  text.split('\n').forEach((line, index) => {
    const where = `line ${index + 1}: ${line}`;
    if (line.trim() === '') return;
    if (line.startsWith('# HELP ')) {
      const name = line.slice(7).split(' ')[0] ?? '';
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name in HELP, ${where}`);
      return;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      if (!name || !METRIC_NAME.test(name)) throw new Error(`bad metric name in TYPE, ${where}`);
      if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type ?? ''))
        throw new Error(`unknown type, ${where}`);
      types.set(name, type!);
      return;
    }
    if (line.startsWith('#')) return;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample, ${where}`);
    const [, name, labelText, rawValue] = match;
    const value = Number(
      rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : rawValue,
    );
    if (Number.isNaN(value) && rawValue !== 'NaN') throw new Error(`bad value, ${where}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (labelText ?? '').matchAll(LABEL)) labels[key!] = raw!;
    const family = name!.replace(/_(bucket|sum|count|total|created)$/, '');
    if (!types.has(name!) && !types.has(family))
      throw new Error(`sample of an undeclared metric, ${where}`);
    samples.push({ name: name!, labels, value });
  });
  return samples;
}

/** The sum of the samples of `name` whose labels include `labels`. */
export function total(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  if (!/^text\/plain/.test(response.headers.get('content-type') ?? ''))
    throw new Error(`${url} is not text/plain`);
  return parsePrometheusText(await response.text());
}
