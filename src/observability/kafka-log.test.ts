import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { logLevel } from 'kafkajs';
import pino from 'pino';
import { kafkaLogCreator } from './kafka-log';

describe('kafkaLogCreator', () => {
  it('writes kafkajs lines as JSON through the logger, retried broker errors as warnings', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const log = kafkaLogCreator(pino({ level: 'info' }, sink))(logLevel.INFO);
    log({
      namespace: 'Connection',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: {
        timestamp: 'now',
        logger: 'kafkajs',
        message: 'Response InitProducerId',
        broker: '127.0.0.1:9092',
        error: 'The coordinator is loading',
      },
    });
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.level, 40, 'warn');
    assert.equal(lines[0]?.msg, 'Response InitProducerId');
    assert.equal(lines[0]?.component, 'kafkajs');
    assert.equal(lines[0]?.broker, '127.0.0.1:9092');
  });
});
