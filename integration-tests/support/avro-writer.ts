import type { ReportRequested } from '../../src/contracts';
import { REQUESTABLE_PRIORITIES } from '../../src/domain/priority';

/**
 * Avro binary written by hand, so that a test can write what the contract allows and also what
 * no Avro library would: union branches that do not exist, string lengths that lie, varints
 * too long for a long.
 */
export class AvroWriter {
  private readonly chunks: Buffer[] = [];

  /** A zig-zag varint; an int is written the same way. */
  long(value: number | bigint): this {
    const n = BigInt(value);
    let zigzag = BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));
    const bytes: number[] = [];
    while (zigzag >= 0x80n) {
      bytes.push(Number((zigzag & 0x7fn) | 0x80n));
      zigzag >>= 7n;
    }
    bytes.push(Number(zigzag));
    return this.raw(Buffer.from(bytes));
  }

  string(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    return this.long(bytes.length).raw(bytes);
  }

  raw(bytes: Buffer): this {
    this.chunks.push(bytes);
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Confluent's wire format: magic byte 0, the schema id (big-endian int32), the Avro body. */
export function confluentFrame(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

/** The fields of avro/report-requested.avsc, in its order (review and priority may be left out: null). */
export type RequestFields = Omit<ReportRequested, 'review' | 'priority'> & {
  review?: ReportRequested['review'];
  priority?: ReportRequested['priority'];
};

export type StringField =
  | 'idempotencyKey'
  | 'prompt'
  | 'requester.id'
  | 'requester.email'
  | 'options.model'
  | 'options.language'
  | 'correlationId';
export type UnionField =
  'options.model' | 'options.maxTokens' | 'options.language' | 'correlationId';

/** One lie in the bytes of an otherwise well-formed record. */
export type WireFault =
  | { kind: 'union-index'; field: UnionField; index: number }
  | { kind: 'string-length'; field: StringField; length: bigint }
  | { kind: 'string-bytes'; field: StringField; bytes: Buffer }
  | { kind: 'long-bytes'; field: 'requestedAt' | 'options.maxTokens'; bytes: Buffer };

/**
 * ReportRequested in Avro binary, with at most one fault; `extraString` appends the field a
 * BACKWARD-compatible next version adds (`region`, a union of null and string).
 */
export function encodeRequestBody(
  fields: RequestFields,
  fault?: WireFault,
  extraString?: string | null,
): Buffer {
  const w = new AvroWriter();
  const str = (field: StringField, value: string): void => {
    if (fault?.field !== field) {
      w.string(value);
    } else if (fault.kind === 'string-length') {
      w.long(fault.length).raw(Buffer.from(value, 'utf8'));
    } else if (fault.kind === 'string-bytes') {
      w.long(fault.bytes.length).raw(fault.bytes);
    } else {
      w.string(value);
    }
  };
  const long = (field: 'requestedAt' | 'options.maxTokens', value: number): void => {
    if (fault?.kind === 'long-bytes' && fault.field === field) w.raw(fault.bytes);
    else w.long(value);
  };
  const nullable = <T>(field: UnionField, value: T | null, write: (v: T) => void): void => {
    if (fault?.kind === 'union-index' && fault.field === field) {
      w.long(fault.index);
      if (value !== null) write(value);
      return;
    }
    if (value === null) {
      w.long(0);
    } else {
      w.long(1);
      write(value);
    }
  };
  str('idempotencyKey', fields.idempotencyKey);
  str('prompt', fields.prompt);
  str('requester.id', fields.requester.id);
  str('requester.email', fields.requester.email);
  nullable('options.model', fields.options.model, (v) => str('options.model', v));
  nullable('options.maxTokens', fields.options.maxTokens, (v) => long('options.maxTokens', v));
  nullable('options.language', fields.options.language, (v) => str('options.language', v));
  long('requestedAt', fields.requestedAt);
  nullable('correlationId', fields.correlationId, (v) => str('correlationId', v));
  // review: a union of null and ReviewPolicy (an array block, an int, an enum index).
  if (fields.review === null || fields.review === undefined) {
    w.long(0);
  } else {
    const { reviewers, timeoutSeconds, onTimeout } = fields.review;
    w.long(1).long(reviewers.length);
    for (const reviewer of reviewers) w.string(reviewer);
    if (reviewers.length > 0) w.long(0);
    w.long(timeoutSeconds).long(onTimeout === 'APPROVE' ? 0 : 1);
  }
  // priority: a union of null and RequestPriority (an enum index).
  if (fields.priority === null || fields.priority === undefined) w.long(0);
  else w.long(1).long(REQUESTABLE_PRIORITIES.indexOf(fields.priority));
  if (extraString !== undefined) {
    if (extraString === null) w.long(0);
    else w.long(1).string(extraString);
  }
  return w.toBuffer();
}
