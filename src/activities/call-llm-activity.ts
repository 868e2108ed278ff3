import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import OpenAI from 'openai';
import type { LlmResult, ReportOptions, TokenUsage } from '../domain/report';
import type { ReportFileStore } from '../storage/report-file-store';
import type { TokenLedger } from '../storage/token-ledger';
import { InvalidPromptError, LlmRequestRejectedError, permanent } from './errors';
import { currentWorkflow, withHeartbeats } from './context';
import type { LlmAdmission } from './llm-admission';

export interface CallLlmInput {
  reportId: string;
  /**
   * Whose budget the tokens count against. The workflow always sends it; absent only in calls
   * scheduled by workflows started before budgets existed.
   */
  requesterId?: string;
  prompt: string;
  options: ReportOptions;
}

export interface LlmSettings {
  defaultModel: string;
  defaultMaxTokens: number;
  promptMaxChars: number;
  /** Shown beside the model's name wherever the report shows it; empty for none. */
  modelNote: string;
  /** Per-request timeout; shorter than the activity's start-to-close so the activity can report it. */
  timeoutMs: number;
}

const SYSTEM_PROMPT = [
  'You are a research assistant writing a report for a busy professional.',
  'Answer in Markdown: a "# " title, "## " sections, short paragraphs, "- " lists where useful,',
  'and fenced code blocks only for code or data.',
].join(' ');

/** Refuses an empty or oversized prompt before anything is paid for. */
export function validatePrompt(prompt: string, maxChars: number): string {
  const trimmed = prompt.trim();
  if (trimmed.length === 0) throw new InvalidPromptError('the prompt is empty');
  if (trimmed.length > maxChars) {
    throw new InvalidPromptError(
      `the prompt has ${trimmed.length} characters; at most ${maxChars} are accepted`,
    );
  }
  return trimmed;
}

export function titleOf(content: string, prompt: string): string {
  const heading = /^#\s+(.+)$/m.exec(content)?.[1]?.trim();
  const fallback = prompt.split('\n')[0]!.trim();
  const title = heading || fallback;
  return title.length > 120 ? `${title.slice(0, 117)}...` : title;
}

/** Seconds or an HTTP date in Retry-After (or OpenAI's retry-after-ms), as milliseconds. */
export function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const raw = headers?.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Decides retryability where the provider's answer is understood. */
function classify(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return new CancelledFailure('callLlm cancelled');
  const status: unknown = error instanceof OpenAI.APIError ? error.status : undefined;
  if (
    error instanceof OpenAI.APIError &&
    typeof status === 'number' &&
    [400, 401, 403, 404, 422].includes(status)
  ) {
    const code = typeof error.code === 'string' ? error.code : null;
    const message = `LLM refused the request (${status}${code ? `, ${code}` : ''}): ${error.message}`;
    return permanent(new LlmRequestRejectedError(message, status, code, { cause: error }), [
      { status, code },
    ]);
  }
  // Timeouts, connection errors and 5xx: transient, left to the retry policy.
  return error;
}

export function createCallLlmActivity(deps: {
  llm: OpenAI;
  admission: LlmAdmission;
  files: Pick<ReportFileStore, 'find' | 'save'>;
  tokenLedger: Pick<TokenLedger, 'record'>;
  settings: LlmSettings;
}) {
  return async function callLlm(input: CallLlmInput): Promise<LlmResult & { attempt: number }> {
    const { info, log } = Context.current();
    const modelNote = deps.settings.modelNote ? { modelNote: deps.settings.modelNote } : {};
    let prompt: string;
    try {
      prompt = validatePrompt(input.prompt, deps.settings.promptMaxChars);
    } catch (error: unknown) {
      if (error instanceof InvalidPromptError) throw permanent(error);
      throw error;
    }

    // An earlier attempt may have been paid for and stored before its worker died: reuse it.
    const stored = await deps.files.find(input.reportId, 'content');
    if (stored) {
      log.info('LLM content already stored; not calling the LLM again', {
        reportId: input.reportId,
      });
      const content = stored.data.toString('utf8');
      return {
        content: stored.ref,
        model: String(stored.meta.model),
        ...modelNote,
        usage: stored.meta.usage as TokenUsage,
        title: titleOf(content, prompt),
        called: false,
        attempt: info.attempt,
      };
    }

    const model = input.options.model ?? deps.settings.defaultModel;
    const language = input.options.language;
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      {
        role: 'system',
        content: language
          ? `${SYSTEM_PROMPT} Write in the language with code "${language}".`
          : SYSTEM_PROMPT,
      },
      { role: 'user', content: prompt },
    ];
    const request: OpenAI.ChatCompletionCreateParamsStreaming = {
      model,
      messages,
      max_completion_tokens: input.options.maxTokens ?? deps.settings.defaultMaxTokens,
      stream: true,
      stream_options: { include_usage: true },
    };
    const { content, usage, answeredBy } = await withHeartbeats(async (signal) => {
      // A 429 is the provider asking us to slow down, not a failed attempt: the call waits for
      // the quota with every other call of the process and goes again, within this attempt.
      for (;;) {
        const call = await deps.admission.admit(signal).catch((error: unknown) => {
          throw classify(error, signal);
        });
        try {
          const { data: stream, response } = await deps.llm.chat.completions
            .create(request, {
              signal,
              timeout: deps.settings.timeoutMs,
              // Stable for the workflow, so a provider that dedupes can recognise our retries.
              headers: { 'Idempotency-Key': `${currentWorkflow().workflowId}:callLlm` },
            })
            .withResponse();
          // Accepted: what the headers say is left of the quota paces the calls behind this one.
          call.succeeded(response.headers);
          let text = '';
          let tokens: TokenUsage | undefined;
          let reported: string | undefined;
          for await (const chunk of stream) {
            reported ||= chunk.model;
            text += chunk.choices[0]?.delta.content ?? '';
            if (chunk.usage)
              tokens = {
                promptTokens: chunk.usage.prompt_tokens,
                completionTokens: chunk.usage.completion_tokens,
              };
          }
          if (!text.trim()) throw new Error('the LLM returned an empty answer');
          return {
            content: text,
            usage: tokens ?? { promptTokens: 0, completionTokens: 0 },
            // The name the provider gave the model that answered (a dated version, or a local
            // server's own model whatever was asked for).
            answeredBy: reported || model,
          };
        } catch (error: unknown) {
          if (error instanceof OpenAI.RateLimitError && !signal.aborted) {
            const waitMs = retryAfterMs(error.headers);
            call.rateLimited(waitMs, error.headers);
            log.info('LLM rate limit; waiting for the quota', { reportId: input.reportId, waitMs });
            continue;
          }
          call.failed();
          throw classify(error, signal);
        }
      }
    });

    // Recorded before the answer is stored: should storing fail, the retry pays for a second
    // answer and records that one too; a retry that finds this one stored records nothing.
    await deps.tokenLedger.record({
      callId: `${currentWorkflow().runId}/${info.activityId}/${info.attempt}`,
      reportId: input.reportId,
      requesterId: input.requesterId ?? null,
      model: answeredBy,
      ...usage,
    });
    const ref = await deps.files.save(
      input.reportId,
      'content',
      Buffer.from(content, 'utf8'),
      'text/markdown; charset=utf-8',
      { model: answeredBy, requestedModel: model, usage },
    );
    log.info('LLM content stored', {
      reportId: input.reportId,
      model: answeredBy,
      requestedModel: model,
      ...usage,
    });
    return {
      content: ref,
      model: answeredBy,
      ...modelNote,
      usage,
      title: titleOf(content, prompt),
      called: true,
      attempt: info.attempt,
    };
  };
}
