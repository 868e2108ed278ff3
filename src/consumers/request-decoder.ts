import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { RequestRejectedError } from '../domain/request-validation';
import { AvroRecordReader, UnreadableRecordError } from './avro-record-reader';

/**
 * Reads request records into the current ReportRequested shape. A record that can never be
 * read is a `RequestRejectedError` naming why; an unreachable registry is thrown as it is, to
 * be retried.
 */
export class RequestDecoder {
  private constructor(private readonly reader: AvroRecordReader) {}

  /** `readerSchemaId`: the current ReportRequested, as registered at start. */
  static async create(registry: SchemaRegistry, readerSchemaId: number): Promise<RequestDecoder> {
    return new RequestDecoder(await AvroRecordReader.create(registry, readerSchemaId));
  }

  async decode(value: Buffer | null): Promise<unknown> {
    try {
      return await this.reader.read(value);
    } catch (error: unknown) {
      if (error instanceof UnreadableRecordError)
        throw new RequestRejectedError(error.reason, error.message, { cause: error.cause });
      throw error;
    }
  }
}
