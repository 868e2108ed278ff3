import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { composeCommand, composeFile } from '../../stack/docker';
import { composeTestProjectPrefix } from '../../stack/servers';
import { apiAt, waitForEnd } from '../support/api-harness';
import { freePorts } from '../../stack/docker';
import { pdfText } from '../support/report-assertions';
import { uniqueName } from '../../testing/stack-env';

/**
 * docker-compose.yml as a person runs it: the whole service from the same images, on ports of
 * its own (a project of its own beside the test servers), up until healthy, then a report
 * written by the real local model that Compose runs by default.
 */
describe('docker compose up', () => {
  const project = `${composeTestProjectPrefix}${process.pid}-${Date.now().toString(36)}`;
  const ports: Record<string, string> = {};
  let compose: string[];
  let composeEnv: NodeJS.ProcessEnv;

  const run = (args: string[], timeoutMs = 300_000): { status: number | null; output: string } => {
    const [command, ...prefix] = compose;
    const result = spawnSync(command!, [...prefix, '-p', project, '-f', composeFile, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
      env: composeEnv,
    });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  };

  before(async () => {
    compose = await composeCommand();
    const names = [
      'API_PORT',
      'KAFKA_PORT',
      'REGISTRY_PORT',
      'TEMPORAL_PORT',
      'TEMPORAL_UI_PORT',
      'POSTGRES_PORT',
      'SMTP_PORT',
      'MAILDEV_PORT',
      'LLM_PORT',
    ];
    const free = await freePorts(names.length);
    names.forEach((name, i) => (ports[name] = String(free[i])));
    // The test run's own settings point at its servers; Compose must take its defaults instead.
    composeEnv = { ...process.env, ...ports };
    delete composeEnv.OPENAI_API_KEY;
    delete composeEnv.OPENAI_BASE_URL;
  });

  after(() => {
    run(['down', '--volumes', '--timeout', '10'], 120_000);
  });

  it('brings every service up healthy, the release step done', () => {
    const up = run(['up', '--detach', '--wait', '--no-build']);
    if (up.status !== 0) {
      const logs = run(['logs', '--no-color', '--tail', '30']).output;
      assert.fail(`docker compose up exited ${up.status}:\n${up.output}\n${logs}`);
    }
    const ps = run(['ps', '--all', '--format', '{{.Service}} {{.State}} {{.Health}}']).output;
    for (const service of ['postgres', 'temporal', 'kafka', 'registry', 'maildev', 'llm'])
      assert.match(ps, new RegExp(`^${service} running healthy$`, 'm'), ps);
    for (const service of ['worker', 'consumer', 'api'])
      assert.match(ps, new RegExp(`^${service} running healthy$`, 'm'), ps);
    assert.match(ps, /^release exited/m, ps);
  });

  it('completes a report asked for on its API, and mails it', async () => {
    const api = `http://127.0.0.1:${ports.API_PORT}`;
    const key = uniqueName('compose');
    const email = `${key}@example.com`;
    const res = await fetch(`${api}/api/workflows/generate-report`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({
        prompt: `Heat pumps in cold climates (${key})`,
        requester: { id: 'team-compose', email },
        // A short answer: the model shares two cores with this stack, the test servers and
        // whatever else runs (a `./dev start` service, say), and writes slowly then.
        options: { maxTokens: 96 },
      }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { workflowId } = (await res.json()) as { workflowId: string };
    const status = await waitForEnd(apiAt(api), `/api/workflows/${workflowId}/status`, 240_000);
    assert.equal(status.status, 'COMPLETED', JSON.stringify(status));

    // Written by the local model, under the name it serves as.
    const models = (await (await fetch(`http://127.0.0.1:${ports.LLM_PORT}/v1/models`)).json()) as {
      data: { id: string }[];
    };
    const localModel = models.data[0]!.id;
    assert.match(localModel, /SmolLM2-135M-Instruct/);
    const result = (await (await fetch(`${api}/api/workflows/${workflowId}/result`)).json()) as {
      model: string;
      modelNote?: string;
      usage: { promptTokens: number; completionTokens: number };
      pdf: { url: string };
    };
    assert.equal(result.model, localModel);
    assert.match(result.modelNote ?? '', /running on this machine/);
    assert.ok(result.usage.completionTokens > 0, JSON.stringify(result.usage));
    const pdf = Buffer.from(await (await fetch(`${api}${result.pdf.url}`)).arrayBuffer());
    assert.match(
      (await pdfText(pdf)).text.replace(/\s+/g, ' '),
      new RegExp(`Written by: ${localModel} \\(`),
    );

    const mails = (await (await fetch(`http://127.0.0.1:${ports.MAILDEV_PORT}/email`)).json()) as {
      to: { address: string }[];
      text: string;
    }[];
    const mail = mails.find((m) => m.to.some((t) => t.address === email));
    assert.ok(mail, 'maildev has the email');
    assert.match(mail.text, new RegExp(`Written by ${localModel} \\(`));
  });
});
