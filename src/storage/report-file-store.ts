import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import type { FileRef } from '../domain/report';
import { ReportFile } from '../entities/report-file';

export interface StoredFile {
  ref: FileRef;
  contentType: string;
  data: Buffer;
  meta: Record<string, unknown>;
}

/** Report artefacts by (reportId, kind). Saving again overwrites: never a second copy. */
export class ReportFileStore {
  constructor(private readonly dataSource: DataSource) {}

  async save(
    reportId: string,
    kind: FileRef['kind'],
    data: Buffer,
    contentType: string,
    meta: Record<string, unknown> = {},
  ): Promise<FileRef> {
    const sha256 = createHash('sha256').update(data).digest('hex');
    await this.dataSource.getRepository(ReportFile).upsert(
      {
        reportId,
        kind,
        data,
        contentType,
        sizeBytes: data.length,
        sha256,
        meta,
      } as QueryDeepPartialEntity<ReportFile>,
      ['reportId', 'kind'],
    );
    return { reportId, kind, bytes: data.length, sha256 };
  }

  async find(reportId: string, kind: FileRef['kind']): Promise<StoredFile | undefined> {
    const row = await this.dataSource.getRepository(ReportFile).findOneBy({ reportId, kind });
    if (!row) return undefined;
    return {
      ref: { reportId, kind, bytes: row.sizeBytes, sha256: row.sha256 },
      contentType: row.contentType,
      data: row.data,
      meta: row.meta,
    };
  }

  /** True when something was deleted. */
  async delete(reportId: string, kind: FileRef['kind']): Promise<boolean> {
    const result = await this.dataSource.getRepository(ReportFile).delete({ reportId, kind });
    return (result.affected ?? 0) > 0;
  }
}
