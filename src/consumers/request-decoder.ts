import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { reportRequestedName } from '../contracts';
import { RequestRejectedError } from '../domain/request-validation';

const REQUEST_SCHEMA_NAME = reportRequestedName;
/** What the registry client parses a schema into; its Avro schemas are avsc types. */
type RegistrySchema = Awaited<ReturnType<SchemaRegistry['getSchema']>>;
type AvroType = Parameters<
  Extract<RegistrySchema, { createResolver: unknown }>['createResolver']
>[0];

/**
 * Reads Confluent-framed Avro records (magic byte 0, a schema id, the body) into the current
 * ReportRequested shape. A record that can never be read is a `RequestRejectedError` naming
 * why; an unreachable registry is thrown as it is, to be retried.
 */
export class RequestDecoder {
  private readonly readers = new Map<number, (body: Buffer) => unknown>();

  private constructor(
    private readonly registry: SchemaRegistry,
    private readonly readerSchema: AvroType,
  ) {}

  /** `readerSchemaId`: the current ReportRequested, as registered at start. */
  static async create(registry: SchemaRegistry, readerSchemaId: number): Promise<RequestDecoder> {
    const reader = (await registry.getSchema(readerSchemaId)) as unknown as AvroType;
    return new RequestDecoder(registry, reader);
  }

  async decode(value: Buffer | null): Promise<unknown> {
    if (!value || value.length < 6 || value.readUInt8(0) !== 0) {
      throw new RequestRejectedError(
        'not-avro',
        'the record is not in the Confluent Avro wire format (magic byte 0, schema id)',
      );
    }
    const schemaId = value.readInt32BE(1);
    const read = await this.readerFor(schemaId);
    try {
      return plain(read(value.subarray(5)));
    } catch (error: unknown) {
      throw new RequestRejectedError(
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
    let writer: RegistrySchema;
    try {
      writer = await this.registry.getSchema(schemaId);
    } catch (error: unknown) {
      const status = (error as { status?: unknown }).status;
      if (status === 404) {
        throw new RequestRejectedError(
          'unknown-schema-id',
          `schema id ${schemaId} is not in the registry`,
          { cause: error },
        );
      }
      // The registry client reports every failed exchange, the network's included, with an
      // HTTP status. Without one, the registry answered with a schema that cannot be parsed
      // here, and asking again will not change it.
      if (typeof status === 'number') throw error;
      throw new RequestRejectedError(
        'wrong-schema',
        `schema id ${schemaId} cannot be parsed as a schema: ${String(error)}`,
        { cause: error },
      );
    }
    const name = 'createResolver' in writer ? writer.name : undefined;
    if (name !== REQUEST_SCHEMA_NAME) {
      throw new RequestRejectedError(
        'wrong-schema',
        `schema id ${schemaId} is ${name ?? 'not an Avro record'}, not ${REQUEST_SCHEMA_NAME}`,
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
        throw new RequestRejectedError(
          'wrong-schema',
          `schema id ${schemaId} is a version of ${REQUEST_SCHEMA_NAME} that cannot be read as the current one: ${String(error)}`,
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
