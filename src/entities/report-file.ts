import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A report's stored artefacts by reportId: the LLM's content and the rendered PDF. */
@Entity({ name: 'report_files' })
export class ReportFile {
  @PrimaryColumn({ name: 'report_id', type: 'uuid' })
  reportId!: string;

  @PrimaryColumn({ type: 'text' })
  kind!: 'content' | 'pdf';

  @Column({ name: 'content_type', type: 'text' })
  contentType!: string;

  @Column({ type: 'bytea' })
  data!: Buffer;

  @Column({ name: 'size_bytes', type: 'integer' })
  sizeBytes!: number;

  @Column({ type: 'text' })
  sha256!: string;

  /** Facts about the artefact that callers need without loading it (pages, token usage, model). */
  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  meta!: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
