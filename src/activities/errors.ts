import { ApplicationFailure } from '@temporalio/common';
import { NON_RETRYABLE } from '../domain/report';

/** Base of the service's own errors: a stable `code` that becomes the Temporal failure type. */
export abstract class ReportError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Thrown before any LLM call when a prompt is empty or longer than PROMPT_MAX_CHARS. */
export class InvalidPromptError extends ReportError {
  readonly code = NON_RETRYABLE.invalidPrompt;
}

/** Thrown when the LLM provider refuses the request itself (4xx such as context length); retrying cannot help. */
export class LlmRequestRejectedError extends ReportError {
  readonly code = NON_RETRYABLE.llmRejected;
  constructor(
    message: string,
    readonly status: number,
    readonly providerCode: string | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Thrown when a step needs an artefact an earlier step should have stored, and it is gone. */
export class MissingArtefactError extends ReportError {
  readonly code = NON_RETRYABLE.missingArtefact;
}

/** Turns one of our permanent errors into a failure Temporal will not retry. */
export function permanent(error: ReportError, details: unknown[] = []): ApplicationFailure {
  return ApplicationFailure.create({
    message: error.message,
    type: error.code,
    nonRetryable: true,
    cause: error,
    details,
  });
}
