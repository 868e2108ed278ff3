import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { REQUESTABLE_PRIORITIES } from '../../src/domain/priority';
import {
  EARLIEST_REQUESTED_AT,
  REQUESTED_AT_LEEWAY_MS,
  type RejectionReason,
} from '../../src/domain/request-validation';
import {
  AvroWriter,
  confluentFrame,
  encodeRequestBody,
  type RequestFields,
  type StringField,
  type UnionField,
  type WireFault,
} from './avro-writer';

/** What must become of one generated record. */
export type Expectation =
  | { outcome: 'start'; idempotencyKey: string }
  /** `idempotencyKey`: a conflict names the key whose first request it contradicts. */
  | { outcome: 'dead-letter'; reasons: readonly RejectionReason[]; idempotencyKey?: string }
  /** Mangled bytes: whatever they decode to, the record is started or dead-lettered, once. */
  | { outcome: 'either' };

export interface FuzzRecord {
  /** Its place in the produced sequence; also its `fuzz-id` header. */
  id: number;
  /** What the generator made, e.g. `invalid:requestedAt-year-9999`; the figures count by it. */
  kind: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  partition: number;
  expect: Expectation;
}

export interface FuzzContext {
  /** Prefix of every idempotency key, so that runs never share inbox rows or workflows. */
  runId: string;
  partitions: number;
  promptMaxChars: number;
  /** When the records are made; their timestamps are relative to it. */
  now: number;
  schemaIds: {
    request: number;
    /** ReportRequested plus an optional field: BACKWARD-compatible, read as is. */
    requestV2: number;
    /** Schemas a request record must not be written with. */
    wrong: readonly { name: string; id: number }[];
  };
}

const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * The largest value a one-record batch can carry under Kafka's default limit (message.max.bytes,
 * 1,048,588), less the batch's own bytes and room for a key and a `fuzz-id` header.
 */
export const MAX_VALUE_BYTES = 1_048_588 - 200;

/** One draft record of an item, before it has a place in the sequence. */
interface Draft {
  kind: string;
  /** `home`: keyed by the idempotency key; `other`: another key, on another partition. */
  key: 'home' | 'other' | 'none' | Buffer;
  value: Buffer | null;
  headers: Record<string, string>;
  expect: Expectation;
  /** Spreads unkeyed records over the partitions. */
  spread: number;
  /** The key that places a `home` record; the item's prefix when absent. */
  home?: string;
}

/** An item makes one record, or several that share an idempotency key, in the order given. */
type Item = (keyPrefix: string) => Draft[];

export const CONTROL_CHARS = [
  '\u0000',
  '\u0001',
  '\u0007',
  '\b',
  '\u000b',
  '\f',
  '\u000e',
  '\u001b',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u009f',
] as const;
export const LINE_CHARS = ['\n', '\r', '\t'] as const;

const deadLetter = (...reasons: RejectionReason[]): Expectation => ({
  outcome: 'dead-letter',
  reasons,
});

/** Printable text (no control characters, well-formed), starting with a letter. */
const text = (maxGraphemes: number, maxLength: number): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.stringMatching(/^[A-Za-z]$/),
      fc.string({ unit: 'grapheme', maxLength: maxGraphemes }),
    )
    .map(([first, rest]) => first + rest.replace(/\p{Cc}/gu, ' '))
    .filter((s) => s.length <= maxLength && s.isWellFormed());

export const insertAt = (s: string, position: number, inserted: string): string => {
  const at = position % (s.length + 1);
  return s.slice(0, at) + inserted + s.slice(at);
};

/** A string of exactly `length` ASCII characters that does not end in white space. */
const asciiOfLength = (length: number, seed: string): string =>
  length <= 0 ? '' : seed.repeat(Math.ceil(length / seed.length)).slice(0, length - 1) + 'z';

/** The fields of a request the service must accept (in Avro's shape: absent options are null). */
export function validFields(
  ctx: Pick<FuzzContext, 'promptMaxChars' | 'now'>,
): fc.Arbitrary<Omit<RequestFields, 'idempotencyKey'>> {
  const shortPrompt = fc
    .tuple(
      fc.constantFrom('', ' ', '\n', '\t ', '  \r\n'),
      text(200, 2000),
      fc.array(fc.tuple(fc.constantFrom(...LINE_CHARS, ' '), text(30, 300)), { maxLength: 3 }),
      fc.constantFrom('', ' ', '\n', ' \t\n'),
    )
    .map(([lead, body, more, trail]) => lead + body + more.flat().join('') + trail);
  // At the limit once trimmed, with white space around that does not count.
  const longPrompt = fc
    .tuple(fc.integer({ min: 0, max: 200 }), fc.nat(3), fc.string({ minLength: 1, maxLength: 8 }))
    .map(
      ([under, pad, seed]) =>
        ' '.repeat(pad) +
        asciiOfLength(ctx.promptMaxChars - under, seed.replace(/[^ -~]/g, 'a')) +
        '\n'.repeat(pad),
    );
  return fc.record({
    prompt: fc.oneof({ weight: 12, arbitrary: shortPrompt }, { weight: 1, arbitrary: longPrompt }),
    requester: fc.record({
      id: text(40, 200),
      email: fc.stringMatching(
        /^[a-z0-9]{1,12}(\.[a-z0-9_+-]{1,8}){0,2}@[a-z0-9]{1,12}(-[a-z0-9]{1,6})?\.[a-z]{2,6}$/,
      ),
    }),
    options: fc.record({
      model: fc.option(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.:/_-]{0,60}$/), { nil: null }),
      maxTokens: fc.option(fc.integer({ min: 1, max: 128_000 }), { nil: null }),
      language: fc.option(fc.stringMatching(/^[a-z]{2,3}(-[A-Z]{2})?$/), { nil: null }),
    }),
    // From the earliest accepted time to an hour ahead (a producer's clock may run fast).
    requestedAt: fc.integer({ min: EARLIEST_REQUESTED_AT, max: ctx.now + 3_600_000 }),
    correlationId: fc.option(text(40, 200), { nil: null }),
    priority: fc.option(fc.constantFrom(...REQUESTABLE_PRIORITIES), { nil: null }),
  });
}

const keySuffix = fc.stringMatching(/^[A-Za-z0-9._:@-]{0,60}$/);
const spread = fc.nat();
const extraHeaders = fc.oneof(
  { weight: 8, arbitrary: fc.constant({}) },
  // A forged reason must not survive: the consumer's own headers win.
  { weight: 1, arbitrary: fc.constant({ 'dlq-reason': 'forged', 'dlq-source-offset': '-1' }) },
  {
    weight: 1,
    arbitrary: fc.dictionary(
      fc.stringMatching(/^[a-z][a-z-]{0,15}$/),
      fc.string({ maxLength: 40 }),
      {
        maxKeys: 3,
      },
    ),
  },
);

const frame = (ctx: FuzzContext, fields: RequestFields, fault?: WireFault): Buffer =>
  confluentFrame(ctx.schemaIds.request, encodeRequestBody(fields, fault));

/** A valid request, sent one or more times (some on another partition, some in schema v2), and perhaps reused for another payload. */
function validGroup(ctx: FuzzContext): fc.Arbitrary<Item> {
  const copy = fc.record({
    laterBy: fc.integer({ min: 0, max: 3_600_000 }),
    correlationId: fc.option(text(20, 200), { nil: null }),
    where: fc.constantFrom('home', 'home', 'home', 'other'),
    // Mostly the current schema; now and then v2, whose extra field is null or a string.
    v2: fc.oneof(
      { weight: 5, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.option(fc.string({ maxLength: 20 }), { nil: null }) },
    ),
    rank: fc.nat(),
    headers: extraHeaders,
  });
  const conflict = fc.record({
    change: fc.constantFrom('prompt', 'email', 'requester', 'maxTokens', 'model'),
    rank: fc.nat(),
  });
  return fc
    .record({
      fields: validFields(ctx),
      suffix: keySuffix,
      first: fc.record({ v2: copy.map((c) => c.v2), headers: extraHeaders }),
      copies: fc.array(copy, { maxLength: 3 }),
      conflicts: fc.oneof(
        {
          weight: 4,
          arbitrary: fc.constant<(typeof conflict extends fc.Arbitrary<infer C> ? C : never)[]>([]),
        },
        { weight: 1, arbitrary: fc.array(conflict, { minLength: 1, maxLength: 2 }) },
      ),
      spread,
    })
    .map(({ fields, suffix, first, copies, conflicts, spread }) => (prefix: string) => {
      const idempotencyKey = `${prefix}.valid${suffix ? `.${suffix}` : ''}`;
      const request: RequestFields = { ...fields, idempotencyKey };
      const encode = (r: RequestFields, v2: string | null | undefined): Buffer =>
        v2 === undefined
          ? frame(ctx, r)
          : confluentFrame(ctx.schemaIds.requestV2, encodeRequestBody(r, undefined, v2));
      const start: Expectation = { outcome: 'start', idempotencyKey };
      const firstDraft: Draft = {
        kind: first.v2 === undefined ? 'valid' : 'valid:schema-v2',
        key: 'home',
        value: encode(request, first.v2),
        headers: first.headers,
        expect: start,
        spread,
      };
      const later = [
        ...copies.map((c) => ({
          rank: c.rank,
          draft: {
            kind: `duplicate${c.where === 'other' ? ':other-partition' : ''}${c.v2 === undefined ? '' : ':schema-v2'}`,
            key: c.where === 'other' ? ('other' as const) : ('home' as const),
            // The payload hash leaves out the time and the correlation id: still the same request.
            value: encode(
              {
                ...request,
                requestedAt: request.requestedAt + c.laterBy,
                correlationId: c.correlationId,
              },
              c.v2,
            ),
            headers: c.headers,
            expect: start,
            spread,
          },
        })),
        ...conflicts.map((c, i) => {
          const changed: RequestFields = structuredClone(request);
          if (c.change === 'prompt') changed.prompt = `A different question (${i})`;
          if (c.change === 'email')
            changed.requester.email = `other${i}.${request.requester.email}`;
          if (c.change === 'requester')
            changed.requester.id = `other-${i}-${request.requester.id}`.slice(0, 200);
          if (c.change === 'maxTokens')
            changed.options.maxTokens = request.options.maxTokens === 77 ? 78 : 77;
          if (c.change === 'model')
            changed.options.model = request.options.model === 'm-x' ? 'm-y' : 'm-x';
          return {
            rank: c.rank,
            draft: {
              kind: `conflict:${c.change}`,
              key: 'home' as const,
              value: frame(ctx, changed),
              headers: {},
              expect: {
                outcome: 'dead-letter' as const,
                reasons: ['idempotency-key-conflict' as const],
                idempotencyKey,
              },
              spread,
            },
          };
        }),
      ].sort((a, b) => a.rank - b.rank);
      return [firstDraft, ...later.map((l) => l.draft)].map((d) => ({
        ...d,
        home: idempotencyKey,
      }));
    });
}

type Mutation = (r: RequestFields) => void;
/** A length from `min` up: mostly just past a limit, now and then far past it. */
const overLimit = (min: number): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min, max: min + 100 }) },
    { weight: 1, arbitrary: fc.integer({ min, max: 200_000 }) },
  );
const withControl = (position: number, ch: string) => (s: string) => insertAt(s, position, ch);

/** Valid Avro whose values the service must refuse: each mutation names what is wrong. */
function invalidValue(ctx: FuzzContext): fc.Arbitrary<Item> {
  const control = fc.constantFrom(...CONTROL_CHARS);
  const anyControl = fc.constantFrom(...CONTROL_CHARS, ...LINE_CHARS);
  const pos = fc.nat();
  const mutations: fc.Arbitrary<[string, Mutation]>[] = [
    fc.constant([
      'requestedAt-year-9999',
      (r) => void (r.requestedAt = Date.UTC(9999, 11, 31, 23, 59, 59)),
    ]),
    // Up to the last integer the Avro decoder reads without crying loss of precision.
    fc
      .integer({ min: 8_640_000_000_000_001, max: Number.MAX_SAFE_INTEGER - 1 })
      .map((t) => ['requestedAt-beyond-any-date', (r) => void (r.requestedAt = t)]),
    fc
      .integer({ min: -8_640_000_000_000_000, max: EARLIEST_REQUESTED_AT - 1 })
      .map((t) => ['requestedAt-before-2000', (r) => void (r.requestedAt = t)]),
    fc
      .integer({ min: REQUESTED_AT_LEEWAY_MS + DAY_MS, max: 1000 * 365 * DAY_MS })
      .map((ahead) => ['requestedAt-in-the-future', (r) => void (r.requestedAt = ctx.now + ahead)]),
    fc
      .tuple(anyControl, pos)
      .map(([c, p]) => [
        'email-control-char',
        (r) => void (r.requester.email = withControl(p, c)(r.requester.email)),
      ]),
    fc
      .constantFrom('not-an-email', 'a@', '@b.co', 'a@b', 'a b@c.de', 'a..b@c.de', '', 'a@b.c')
      .map((e) => ['email-malformed', (r) => void (r.requester.email = e)]),
    overLimit(250).map((n) => [
      'email-too-long',
      (r) => void (r.requester.email = `${asciiOfLength(n, 'ab')}@example.com`),
    ]),
    fc
      .constantFrom('', ' ', '  \u00a0 ')
      .map((id) => ['requester-id-blank', (r) => void (r.requester.id = id)]),
    overLimit(201).map((n) => [
      'requester-id-too-long',
      (r) => void (r.requester.id = asciiOfLength(n, 'id')),
    ]),
    fc
      .tuple(anyControl, pos)
      .map(([c, p]) => [
        'requester-id-control-char',
        (r) => void (r.requester.id = withControl(p, c)(r.requester.id)),
      ]),
    fc
      .tuple(fc.constantFrom(' ', '/', '#', 'é', '\n', '\u0000', '%', '"', '😀'), pos)
      .map(([c, p]) => [
        'key-bad-char',
        (r) => void (r.idempotencyKey = insertAt(r.idempotencyKey, p, c)),
      ]),
    fc.constant(['key-empty', (r) => void (r.idempotencyKey = '')]),
    overLimit(201).map((n) => [
      'key-too-long',
      (r) => void (r.idempotencyKey = `${r.idempotencyKey}.${'k'.repeat(n)}`),
    ]),
    fc.constant(['model-empty', (r) => void (r.options.model = '')]),
    overLimit(101).map((n) => ['model-too-long', (r) => void (r.options.model = 'm'.repeat(n))]),
    fc
      .tuple(anyControl, pos)
      .map(([c, p]) => [
        'model-control-char',
        (r) => void (r.options.model = withControl(p, c)('gpt-4o-mini')),
      ]),
    fc
      .integer({ min: -(2 ** 31), max: 0 })
      .map((n) => ['maxTokens-not-positive', (r) => void (r.options.maxTokens = n)]),
    fc
      .integer({ min: 128_001, max: 2 ** 31 - 1 })
      .map((n) => ['maxTokens-too-big', (r) => void (r.options.maxTokens = n)]),
    fc
      .constantFrom('', 'e')
      .map((l) => ['language-too-short', (r) => void (r.options.language = l)]),
    fc.constant(['language-too-long', (r) => void (r.options.language = 'x'.repeat(36))]),
    fc
      .tuple(anyControl, pos)
      .map(([c, p]) => [
        'language-control-char',
        (r) => void (r.options.language = withControl(p, c)('en-GB')),
      ]),
    overLimit(201).map((n) => [
      'correlationId-too-long',
      (r) => void (r.correlationId = 'c'.repeat(n)),
    ]),
    fc
      .tuple(anyControl, pos)
      .map(([c, p]) => [
        'correlationId-control-char',
        (r) => void (r.correlationId = withControl(p, c)('corr-1')),
      ]),
    fc
      .constantFrom('', ' ', '\n\t\r ', '\u00a0\u2003')
      .map((p) => ['prompt-blank', (r) => void (r.prompt = p)]),
    fc
      .tuple(control, pos)
      .map(([c, p]) => [
        'prompt-control-char',
        (r) => void (r.prompt = withControl(p, c)(r.prompt)),
      ]),
  ];
  return fc
    .record({ fields: validFields(ctx), mutation: fc.oneof(...mutations), headers: extraHeaders })
    .map(({ fields, mutation: [name, mutate], headers }) => (prefix: string) => {
      const request: RequestFields = {
        ...fields,
        // Short, so that the mutation is the only thing wrong with it.
        prompt: fields.prompt.slice(0, 500).trim() || 'A question',
        idempotencyKey: `${prefix}.invalid`,
      };
      mutate(request);
      return [
        {
          kind: `invalid:${name}`,
          key: 'home',
          value: frame(ctx, request),
          headers,
          expect: deadLetter('invalid-record'),
          spread: 0,
        },
      ];
    });
}

/** Prompts over the limit once trimmed, up to what a Kafka record can carry. */
function tooLarge(ctx: FuzzContext): fc.Arbitrary<Item> {
  // Prompt lengths over the limit, or (from 100,000 up) the size of the whole record, up to
  // what the topic takes: its dead letter, with headers added, no longer fits the same limit.
  const size = fc.oneof(
    {
      weight: 40,
      arbitrary: fc.record({
        prompt: fc.integer({ min: ctx.promptMaxChars + 1, max: ctx.promptMaxChars + 50 }),
      }),
    },
    {
      weight: 8,
      arbitrary: fc.record({ prompt: fc.integer({ min: ctx.promptMaxChars + 1, max: 60_000 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ record: fc.integer({ min: 100_000, max: MAX_VALUE_BYTES - 2_000 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        record: fc.integer({ min: MAX_VALUE_BYTES - 400, max: MAX_VALUE_BYTES }),
      }),
    },
  );
  return fc
    .record({ fields: validFields(ctx), size, seed: fc.string({ minLength: 1, maxLength: 6 }) })
    .map(({ fields, size, seed }) => (prefix: string) => {
      const request: RequestFields = {
        ...fields,
        prompt: '',
        correlationId: null,
        idempotencyKey: `${prefix}.large`,
      };
      // A prompt of 16,384 characters or more takes a 3-byte length instead of the empty one's 1.
      const length = 'prompt' in size ? size.prompt : size.record - frame(ctx, request).length - 2;
      request.prompt = asciiOfLength(length, seed.replace(/[^!-~]/g, 'p'));
      return [
        {
          kind: 'record' in size ? 'too-large:huge' : 'too-large',
          key: 'home',
          value: frame(ctx, request),
          headers: {},
          expect: deadLetter('prompt-too-large'),
          spread: 0,
        },
      ];
    });
}

const unionFields: UnionField[] = [
  'options.model',
  'options.maxTokens',
  'options.language',
  'correlationId',
];
const stringFields: StringField[] = [
  'idempotencyKey',
  'prompt',
  'requester.id',
  'requester.email',
  'options.model',
  'options.language',
  'correlationId',
];

/** Bytes the Avro decoder must refuse: every one of these is `not-avro`. */
function brokenAvro(ctx: FuzzContext): fc.Arbitrary<Item> {
  const base = validFields(ctx).map((f): RequestFields => ({
    ...f,
    idempotencyKey: 'never-read',
    // Every optional field present, so that each fault has a place to land.
    options: {
      model: f.options.model ?? 'm',
      maxTokens: f.options.maxTokens ?? 100,
      language: f.options.language ?? 'en',
    },
    correlationId: f.correlationId ?? 'corr',
  }));
  const overlongVarint = fc.integer({ min: 11, max: 40 }).map((n) => Buffer.alloc(n, 0xff));
  const unsafeLong = fc
    .bigInt({ min: 2n ** 53n, max: 2n ** 63n - 1n })
    .chain((n) => fc.constantFrom(n, -n))
    .map((n) => new AvroWriter().long(n).toBuffer());
  const broken = fc.oneof(
    fc.record({ fields: base, cut: fc.nat() }).map(({ fields, cut }) => {
      const whole = frame(ctx, fields);
      return { kind: 'truncated', value: whole.subarray(0, cut % whole.length) };
    }),
    fc
      .record({
        fields: base,
        field: fc.constantFrom(...unionFields),
        index: fc.oneof(
          fc.integer({ min: 2, max: 1_000_000 }),
          fc.integer({ min: -1_000_000, max: -1 }),
        ),
      })
      .map(({ fields, field, index }) => ({
        kind: 'wrong-union-branch',
        value: frame(ctx, fields, { kind: 'union-index', field, index }),
      })),
    fc
      .record({
        fields: base,
        field: fc.constantFrom(...stringFields),
        length: fc.oneof(
          fc.bigInt({ min: -(2n ** 62n), max: -1n }),
          fc.bigInt({ min: 2_000_000n, max: 2n ** 62n }),
        ),
      })
      .map(({ fields, field, length }) => ({
        kind: length < 0n ? 'string-length-negative' : 'string-length-past-the-end',
        value: frame(ctx, fields, { kind: 'string-length', field, length }),
      })),
    fc
      .record({
        fields: base,
        field: fc.constantFrom('requestedAt' as const),
        bytes: fc.oneof(overlongVarint, unsafeLong),
      })
      .map(({ fields, field, bytes }) => ({
        kind: 'long-out-of-range',
        value: frame(ctx, fields, { kind: 'long-bytes', field, bytes }),
      })),
    fc
      .record({ fields: base, extra: fc.uint8Array({ minLength: 1, maxLength: 64 }) })
      .map(({ fields, extra }) => ({
        kind: 'trailing-bytes',
        value: Buffer.concat([frame(ctx, fields), Buffer.from(extra)]),
      })),
  );
  return fc.record({ b: broken, spread }).map(({ b, spread }) => (prefix: string) => {
    void prefix;
    return [
      {
        kind: b.kind,
        key: 'none',
        value: b.value,
        headers: {},
        expect: deadLetter('not-avro'),
        spread,
      },
    ];
  });
}

/** An int beyond 32 bits where the schema says int: refused by the decoder or by validation. */
function intOutOfRange(ctx: FuzzContext): fc.Arbitrary<Item> {
  return fc
    .record({ fields: validFields(ctx), n: fc.integer({ min: 2 ** 31, max: 2 ** 52 }) })
    .map(({ fields, n }) => (prefix: string) => {
      const request = {
        ...fields,
        idempotencyKey: `${prefix}.int`,
        options: { ...fields.options, maxTokens: 1 },
      };
      const bytes = new AvroWriter().long(n).toBuffer();
      return [
        {
          kind: 'int-out-of-range',
          key: 'home',
          value: frame(ctx, request, { kind: 'long-bytes', field: 'options.maxTokens', bytes }),
          headers: {},
          expect: deadLetter('not-avro', 'invalid-record'),
          spread: 0,
        },
      ];
    });
}

/** Records that are not Confluent Avro frames at all. */
function notFramed(ctx: FuzzContext): fc.Arbitrary<Item> {
  const value: fc.Arbitrary<{ kind: string; value: Buffer | null }> = fc.oneof(
    fc.constant({ kind: 'not-framed:tombstone', value: null }),
    fc.uint8Array({ maxLength: 5 }).map((b) => ({
      kind: 'not-framed:short',
      value: Buffer.concat([Buffer.from([0]), Buffer.from(b)]).subarray(0, Math.max(0, b.length)),
    })),
    fc
      .tuple(fc.integer({ min: 1, max: 255 }), fc.uint8Array({ maxLength: 300 }))
      .map(([magic, rest]) => ({
        kind: 'not-framed:magic-byte',
        value: Buffer.concat([Buffer.from([magic]), Buffer.from(rest)]),
      })),
    validFields(ctx).map((f) => ({
      kind: 'not-framed:json',
      value: Buffer.from(JSON.stringify({ ...f, idempotencyKey: 'json-request' })),
    })),
  );
  return fc
    .record({ v: value, spread, keyed: fc.boolean() })
    .map(({ v, spread, keyed }) => (prefix: string) => [
      {
        kind: v.kind,
        key: keyed ? Buffer.from(`${prefix}.raw`) : 'none',
        value: v.value,
        headers: {},
        expect: deadLetter('not-avro'),
        spread,
      },
    ]);
}

/** A good body under a schema id the registry has never given out. */
function unknownSchemaId(ctx: FuzzContext): fc.Arbitrary<Item> {
  return fc
    .record({
      fields: validFields(ctx),
      id: fc.oneof(
        fc.integer({ min: 10_000_000, max: 2 ** 31 - 1 }),
        fc.integer({ min: -(2 ** 31), max: -1 }),
      ),
      spread,
    })
    .map(({ fields, id, spread }) => (prefix: string) => [
      {
        kind: 'unknown-schema-id',
        key: 'none',
        value: confluentFrame(
          id,
          encodeRequestBody({ ...fields, idempotencyKey: `${prefix}.unknown` }),
        ),
        headers: {},
        expect: deadLetter('unknown-schema-id'),
        spread,
      },
    ]);
}

/** A record written with a schema that is not ReportRequested (or cannot be read as it). */
function wrongSchema(ctx: FuzzContext): fc.Arbitrary<Item> {
  return fc
    .record({
      fields: validFields(ctx),
      schema: fc.constantFrom(...ctx.schemaIds.wrong),
      spread,
    })
    .map(({ fields, schema, spread }) => (prefix: string) => [
      {
        kind: `wrong-schema:${schema.name}`,
        key: 'none',
        value: confluentFrame(
          schema.id,
          encodeRequestBody({ ...fields, idempotencyKey: `${prefix}.wrong` }),
        ),
        headers: {},
        expect: deadLetter('wrong-schema'),
        spread,
      },
    ]);
}

/**
 * A good frame with its body mangled: bits flipped, bytes overwritten, inserted, removed or
 * repeated, or a string's bytes replaced with arbitrary (often invalid UTF-8) bytes. Its key is
 * in a namespace of its own, so that a mangled key cannot become another item's key.
 */
function mangled(ctx: FuzzContext): fc.Arbitrary<Item> {
  const edit = fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
    fc.record({
      op: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }),
    }),
    fc.record({
      op: fc.constant('delete' as const),
      at: fc.nat(),
      n: fc.integer({ min: 1, max: 12 }),
    }),
    fc.record({
      op: fc.constant('repeat' as const),
      at: fc.nat(),
      n: fc.integer({ min: 1, max: 12 }),
    }),
  );
  type Edit = typeof edit extends fc.Arbitrary<infer E> ? E : never;
  const apply = (body: Buffer, e: Edit): Buffer => {
    const at = body.length === 0 ? 0 : e.at % body.length;
    switch (e.op) {
      case 'flip': {
        const out = Buffer.from(body);
        if (out.length > 0) out[at] = out[at]! ^ (1 << e.bit);
        return out;
      }
      case 'set': {
        const out = Buffer.from(body);
        if (out.length > 0) out[at] = e.byte;
        return out;
      }
      case 'insert':
        return Buffer.concat([body.subarray(0, at), Buffer.from(e.bytes), body.subarray(at)]);
      case 'delete':
        return Buffer.concat([body.subarray(0, at), body.subarray(at + e.n)]);
      case 'repeat':
        return Buffer.concat([body.subarray(0, at + e.n), body.subarray(at)]);
    }
  };
  const bodyEdits = fc.record({
    edits: fc.array(edit, { minLength: 1, maxLength: 6 }),
    v2: fc.boolean(),
  });
  const badUtf8 = fc.record({
    field: fc.constantFrom<StringField>('prompt', 'requester.id', 'correlationId', 'options.model'),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  });
  return fc
    .record({
      fields: validFields(ctx),
      how: fc.oneof(bodyEdits, badUtf8),
      spread,
      keyed: fc.boolean(),
    })
    .map(({ fields, how, spread, keyed }) => (prefix: string) => {
      const request: RequestFields = {
        ...fields,
        options: { ...fields.options, model: fields.options.model ?? 'm' },
        correlationId: fields.correlationId ?? 'corr',
        idempotencyKey: `${prefix}.mangled`,
      };
      let value: Buffer;
      let kind: string;
      if ('edits' in how) {
        const schemaId = how.v2 ? ctx.schemaIds.requestV2 : ctx.schemaIds.request;
        const body = encodeRequestBody(request, undefined, how.v2 ? 'eu-west' : undefined);
        value = confluentFrame(schemaId, how.edits.reduce(apply, body));
        kind = 'mangled:bytes';
      } else {
        value = frame(ctx, request, {
          kind: 'string-bytes',
          field: how.field,
          bytes: Buffer.from(how.bytes),
        });
        kind = 'mangled:utf8';
      }
      return [
        {
          kind,
          key: keyed ? 'home' : 'none',
          value,
          headers: {},
          expect: { outcome: 'either' },
          spread,
        },
      ];
    });
}

function item(ctx: FuzzContext): fc.Arbitrary<Item> {
  return fc.oneof(
    { weight: 10, arbitrary: validGroup(ctx) },
    { weight: 20, arbitrary: invalidValue(ctx) },
    { weight: 4, arbitrary: tooLarge(ctx) },
    { weight: 22, arbitrary: brokenAvro(ctx) },
    { weight: 2, arbitrary: intOutOfRange(ctx) },
    { weight: 8, arbitrary: notFramed(ctx) },
    { weight: 5, arbitrary: unknownSchemaId(ctx) },
    { weight: 6, arbitrary: wrongSchema(ctx) },
    { weight: 16, arbitrary: mangled(ctx) },
  );
}

/** Kafka's partition for a key is the producer's business; this one only needs to be stable. */
const partitionOf = (key: Buffer, partitions: number): number =>
  createHash('sha1').update(key).digest().readUInt32BE(0) % partitions;

/**
 * Exactly `count` records from `seed`: items are interleaved at random, each item's own records
 * staying in their order (a duplicate or a conflict always comes after the request it repeats).
 * The same seed, count, context and prefix give the same records.
 */
export function generateFuzzRecords(ctx: FuzzContext, seed: number, count: number): FuzzRecord[] {
  const items = fc.sample(item(ctx), { seed, numRuns: count });
  const drafts = items.flatMap((make, index) => {
    const made = make(`${ctx.runId}.${index}`);
    return made.map((draft) => ({ draft, group: index, prefix: `${ctx.runId}.${index}` }));
  });
  const weights = fc.sample(fc.double({ min: 0, max: 1, noNaN: true }), {
    seed: seed + 1,
    numRuns: drafts.length,
  });
  // Each group's weights, sorted, go to its records in order: groups interleave, members keep order.
  const byGroup = new Map<number, number[]>();
  drafts.forEach(({ group }, i) =>
    byGroup.set(group, [...(byGroup.get(group) ?? []), weights[i]!]),
  );
  for (const list of byGroup.values()) list.sort((a, b) => a - b);
  const placed = drafts.map((d) => ({ ...d, weight: byGroup.get(d.group)!.shift()! }));
  placed.sort((a, b) => a.weight - b.weight);

  return placed.slice(0, count).map(({ draft, prefix }, id): FuzzRecord => {
    const homeKey = Buffer.from(draft.home ?? prefix);
    const home = partitionOf(homeKey, ctx.partitions);
    let key: Buffer | null;
    let partition: number;
    if (draft.key === 'home') {
      key = homeKey;
      partition = home;
    } else if (draft.key === 'other') {
      key = Buffer.concat([homeKey, Buffer.from('#copy')]);
      partition = (home + 1 + (draft.spread % (ctx.partitions - 1 || 1))) % ctx.partitions;
    } else if (draft.key === 'none') {
      key = null;
      partition = draft.spread % ctx.partitions;
    } else {
      key = draft.key;
      partition = partitionOf(key, ctx.partitions);
    }
    return {
      id,
      kind: draft.kind,
      key,
      value: draft.value,
      headers: { ...draft.headers, 'fuzz-id': String(id) },
      partition,
      expect: draft.expect,
    };
  });
}
