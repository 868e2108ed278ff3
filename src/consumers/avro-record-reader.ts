import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';

/** What the registry client parses a schema into; its Avro schemas are avsc types. */
type RegistrySchema = Awaited<ReturnType<SchemaRegistry['getSchema']>>;
type AvroType = Parameters<
  Extract<RegistrySchema, { createResolver: unknown }>['createResolver']
>[0];

/** Why a record can never be read; the DLQ's `dlq-reason` names it. */
export type UnreadableReason = 'not-avro' | 'unknown-schema-id' | 'wrong-schema';

/** A record that no retry will make readable. */
export class UnreadableRecordError extends Error {
  constructor(
    readonly reason: UnreadableReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UnreadableRecordError';
  }
}

/**
 * Reads Confluent-framed Avro records (magic byte 0, a schema id, the body) of one record type
 * into its current shape, as plain objects. A record that can never be read is an
 * `UnreadableRecordError` naming why; an unreachable registry is thrown as it is, to be retried.
 */
export class AvroRecordReader {
  private readonly readers = new Map<number, (body: Buffer) => unknown>();

  private constructor(
    private readonly registry: SchemaRegistry,
    private readonly readerSchema: AvroType,
  ) {}

  /** `readerSchemaId`: the record type's current schema, as registered at start. */
  static async create(registry: SchemaRegistry, readerSchemaId: number): Promise<AvroRecordReader> {
    const reader = (await registry.getSchema(readerSchemaId)) as unknown as AvroType;
    return new AvroRecordReader(registry, reader);
  }

  async read(value: Buffer | null): Promise<unknown> {
    if (!value || value.length < 6 || value.readUInt8(0) !== 0) {
      throw new UnreadableRecordError(
        'not-avro',
        'the record is not in the Confluent Avro wire format (magic byte 0, schema id)',
      );
    }
    const schemaId = value.readInt32BE(1);
    const read = await this.readerFor(schemaId);
    try {
      return plain(read(value.subarray(5)));
    } catch (error: unknown) {
      throw new UnreadableRecordError(
        'not-avro',
        `the record does not decode with schema id ${schemaId}: ${String(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * How to read a body written with a schema id: Avro schema resolution from the writer's version
   * to ours, so BACKWARD-compatible versions read cleanly. Kept per id, since a registered
   * schema never changes; only the registry being unreachable is worth retrying.
   */
  private async readerFor(schemaId: number): Promise<(body: Buffer) => unknown> {
    const known = this.readers.get(schemaId);
    if (known) return known;
    const name = this.readerSchema.name;
    let writer: RegistrySchema;
    try {
      writer = await this.registry.getSchema(schemaId);
    } catch (error: unknown) {
      const status = (error as { status?: unknown }).status;
      if (status === 404) {
        throw new UnreadableRecordError(
          'unknown-schema-id',
          `schema id ${schemaId} is not in the registry`,
          { cause: error },
        );
      }
      // The registry client reports every failed exchange, the network's included, with an
      // HTTP status. Without one, the registry answered with a schema that cannot be parsed
      // here, and asking again will not change it.
      if (typeof status === 'number') throw error;
      throw new UnreadableRecordError(
        'wrong-schema',
        `schema id ${schemaId} cannot be parsed as a schema: ${String(error)}`,
        { cause: error },
      );
    }
    const writerName = 'createResolver' in writer ? writer.name : undefined;
    if (writerName !== name) {
      throw new UnreadableRecordError(
        'wrong-schema',
        `schema id ${schemaId} is ${writerName ?? 'not an Avro record'}, not ${name}`,
      );
    }
    const reader = this.readerSchema;
    const writerType = writer as unknown as AvroType;
    let read: (body: Buffer) => unknown;
    if (reader.equals(writerType)) {
      read = (body) => reader.fromBuffer(body) as unknown;
    } else {
      let resolver: ReturnType<typeof reader.createResolver>;
      try {
        resolver = reader.createResolver(writerType);
      } catch (error: unknown) {
        throw new UnreadableRecordError(
          'wrong-schema',
          `schema id ${schemaId} is a version of ${name} that cannot be read as the current one: ${String(error)}`,
          { cause: error },
        );
      }
      read = (body) => reader.fromBuffer(body, resolver) as unknown;
    }
    this.readers.set(schemaId, read);
    return read;
  }
}

/**
 * The decoded record as plain objects: avsc reads a record into an instance of its own class,
 * whose methods (clone, toBuffer, …) are enumerable, and a strict rule would take them for
 * unknown fields.
 */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, plain(field)]));
}
