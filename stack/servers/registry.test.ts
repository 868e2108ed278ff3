import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { reportRequestedSchema } from '../../src/contracts';
import { config, uniqueName } from '../../testing/stack-env';

interface AvroRecordSchema {
  type: 'record';
  name: string;
  namespace?: string;
  fields: { name: string; type: unknown; default?: unknown }[];
}

const reportRequested = JSON.parse(reportRequestedSchema) as AvroRecordSchema;

const sample = {
  idempotencyKey: 'order-42',
  prompt: 'Summarise the state of solid-state batteries',
  requester: { id: 'team-energy', email: 'analyst@example.com' },
  options: { model: null, maxTokens: 800, language: 'en' },
  requestedAt: Date.parse('2026-01-02T03:04:05.000Z'),
  correlationId: null,
};

const withField = (field: AvroRecordSchema['fields'][number]): string =>
  JSON.stringify({ ...reportRequested, fields: [...reportRequested.fields, field] });

describe('schema registry (Confluent API)', () => {
  const registry = new SchemaRegistry({ host: config.SCHEMA_REGISTRY_URL });

  it('registers an Avro schema from avro/, encodes and decodes in the Confluent wire format', async () => {
    const subject = `${uniqueName('smoke')}-value`;
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(reportRequested) },
      { subject },
    );
    assert.ok(id > 0);

    const encoded = await registry.encode(id, sample);
    assert.equal(encoded.readUInt8(0), 0, 'magic byte');
    assert.equal(encoded.readInt32BE(1), id, 'schema id follows the magic byte');

    const decoded = (await registry.decode(encoded)) as typeof sample;
    assert.equal(decoded.prompt, sample.prompt);
    assert.deepEqual({ ...decoded.requester }, sample.requester);
    assert.equal(decoded.options.maxTokens, 800);
    assert.equal(decoded.requestedAt, sample.requestedAt);
  });

  it('accepts a BACKWARD-compatible change and refuses an incompatible one', async () => {
    const subject = `${uniqueName('smoke')}-value`;
    await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(reportRequested) },
      { subject },
    );

    const compatible = withField({ name: 'region', type: ['null', 'string'], default: null });
    const v2 = await registry.register({ type: SchemaType.AVRO, schema: compatible }, { subject });
    assert.ok(v2.id > 0);

    // A new field with no default cannot be read from records written with the old schema.
    const incompatible = withField({ name: 'costCentre', type: 'string' });
    await assert.rejects(
      registry.register({ type: SchemaType.AVRO, schema: incompatible }, { subject }),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.equal((error as Error & { status?: number }).status, 409, error.message);
        return true;
      },
    );
  });
});
