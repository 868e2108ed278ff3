import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import {
  apiConfigSchema,
  configSchema,
  consumerConfigSchema,
  loadConfig,
  releaseConfigSchema,
  workerConfigSchema,
} from '../../src/config/config';
import { llmTaskQueueFor } from '../../src/domain/task-queues';
import { createServiceMetrics } from '../../src/observability/metrics';
import { kustomizeCli } from '../../stack/provision';
import { imageOf, kafkaTopics } from '../../stack/docker';

/** Offline checks of the deployment files: nothing here needs a cluster or a Docker engine. */

const root = join(__dirname, '..', '..');
const k8s = join(root, 'k8s');
const base = join(k8s, 'base');

type Doc = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: unknown };
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: {
      configMapKeyRef?: { name: string; key: string };
      secretKeyRef?: { name: string; key: string };
    };
  }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet: { port: string | number } };
  readinessProbe?: { httpGet: { port: string | number } };
}
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
}

type Model = new (data: never) => { validate(): void };

interface ScaleTrigger {
  type: string;
  name?: string;
  metadata: Record<string, string>;
}
interface ScaledObjectSpec {
  scaleTargetRef: {
    apiVersion?: string;
    kind?: string;
    name: string;
    envSourceContainerName?: string;
  };
  minReplicaCount?: number;
  maxReplicaCount?: number;
  triggers: ScaleTrigger[];
  [key: string]: unknown;
}

/** The schema classes, from packages that ship the Kubernetes OpenAPI schemas (ES modules). */
async function loadModels(): Promise<Record<string, Model>> {
  const [apps, autoscaling, batch, core, networking, policy, monitoring, keda] = await Promise.all([
    import('kubernetes-models/apps/v1'),
    import('kubernetes-models/autoscaling/v2'),
    import('kubernetes-models/batch/v1'),
    import('kubernetes-models/v1'),
    import('kubernetes-models/networking.k8s.io/v1'),
    import('kubernetes-models/policy/v1'),
    import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1'),
    import('@kubernetes-models/keda/keda.sh/v1alpha1'),
  ]);
  return {
    'apps/v1/Deployment': apps.Deployment as unknown as Model,
    'autoscaling/v2/HorizontalPodAutoscaler':
      autoscaling.HorizontalPodAutoscaler as unknown as Model,
    'batch/v1/Job': batch.Job as unknown as Model,
    'v1/ConfigMap': core.ConfigMap as unknown as Model,
    'v1/Namespace': core.Namespace as unknown as Model,
    'v1/Secret': core.Secret as unknown as Model,
    'v1/Service': core.Service as unknown as Model,
    'networking.k8s.io/v1/Ingress': networking.Ingress as unknown as Model,
    'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget as unknown as Model,
    'monitoring.coreos.com/v1/ServiceMonitor': monitoring.ServiceMonitor as unknown as Model,
    'keda.sh/v1alpha1/ScaledObject': keda.ScaledObject as unknown as Model,
  };
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

function loadDocs(file: string): Doc[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.join('; ')}`);
    return doc.toJS() as Doc;
  });
}

const kustomization = loadDocs(join(base, 'kustomization.yaml'))[0] as unknown as {
  resources: string[];
  configMapGenerator: { name: string; files: string[] }[];
  images: { name: string }[];
};
const resources: Doc[] = kustomization.resources.flatMap((file) => loadDocs(join(base, file)));
const secretTemplate = loadDocs(join(base, 'secret.template.yaml'))[0]!;
const configMap = resources.find((d) => d.kind === 'ConfigMap')!;
const configMapData = configMap.data as Record<string, string>;
const secretData = secretTemplate.stringData as Record<string, string>;
const knownVariables = Object.keys(configSchema.shape);
const packageVersion = (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
).version;

/** The schema each entry point loads its settings with (`loadConfig(process.env, <schema>)`). */
const entryPointConfigs = {
  'dist/http/main.js': { name: 'apiConfigSchema', schema: apiConfigSchema },
  'dist/worker/main.js': { name: 'workerConfigSchema', schema: workerConfigSchema },
  'dist/consumers/main.js': { name: 'consumerConfigSchema', schema: consumerConfigSchema },
  'dist/release/main.js': { name: 'releaseConfigSchema', schema: releaseConfigSchema },
} as const;
type EntryPoint = keyof typeof entryPointConfigs;
const isEntryPoint = (entry: string): entry is EntryPoint =>
  Object.hasOwn(entryPointConfigs, entry);

function podSpec(doc: Doc): PodSpec {
  return (doc.spec as { template: { spec: PodSpec } }).template.spec;
}
const workloads = resources.filter((d) => d.kind === 'Deployment' || d.kind === 'Job');

function dockerfile(): { entrypoint: string[]; exposed: number[]; copies: string[]; user: string } {
  const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  return {
    entrypoint: JSON.parse(/^ENTRYPOINT (.*)$/m.exec(runtime)?.[1] ?? '[]') as string[],
    exposed: (/^EXPOSE (.*)$/m.exec(runtime)?.[1] ?? '').split(/\s+/).map(Number),
    copies: [...runtime.matchAll(/^COPY .* (\S+)$/gm)].map((m) => m[1]!),
    user: /^USER (\S+)$/m.exec(runtime)?.[1] ?? 'root',
  };
}

/** `dist/http/main.js` is built from `src/http/main.ts`. */
function sourceOf(entry: string): string {
  return join(root, entry.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'));
}

/**
 * Keys KEDA (2.17+) reads, from its scalers' sources: the schema types trigger metadata only as
 * strings and lets unknown keys through, and KEDA ignores a misspelled key (falling back to its
 * default) instead of rejecting it.
 */
const scaledObjectSpecKeys = new Set([
  'scaleTargetRef',
  'pollingInterval',
  'initialCooldownPeriod',
  'cooldownPeriod',
  'idleReplicaCount',
  'minReplicaCount',
  'maxReplicaCount',
  'fallback',
  'advanced',
  'triggers',
]);
const withFromEnv = (keys: string[]): string[] => keys.flatMap((k) => [k, `${k}FromEnv`]);
const triggerMetadataKeys: Record<string, Set<string>> = {
  temporal: new Set([
    ...withFromEnv(['endpoint', 'namespace', 'taskQueue', 'buildId']),
    ...withFromEnv(['workerDeploymentName', 'workerDeploymentBuildId']),
    'targetQueueSize',
    'activationTargetQueueSize',
    'queueTypes',
    'selectAllActive',
    'selectUnversioned',
    'minConnectTimeout',
    'unsafeSsl',
    'tlsServerName',
    'apiKeyFromEnv',
  ]),
  kafka: new Set([
    ...withFromEnv(['bootstrapServers', 'consumerGroup', 'topic']),
    'lagThreshold',
    'activationLagThreshold',
    'offsetResetPolicy',
    'allowIdleConsumers',
    'scaleToZeroOnInvalidOffset',
    'excludePersistentLag',
    'limitToPartitionsWithLag',
    'ensureEvenDistributionOfPartitions',
    'version',
    'partitionLimitation',
    'sasl',
    'saslTokenProvider',
    'tls',
    'unsafeSsl',
    'awsRegion',
  ]),
};

/** What the schema check cannot see: unknown spec keys, trigger types and metadata keys. */
function scaledObjectProblems(doc: Doc): string[] {
  const spec = doc.spec as ScaledObjectSpec;
  const problems = Object.keys(spec)
    .filter((key) => !scaledObjectSpecKeys.has(key))
    .map((key) => `spec.${key} is not a ScaledObject field`);
  for (const trigger of spec.triggers) {
    const known = triggerMetadataKeys[trigger.type];
    if (!known) {
      problems.push(`trigger type ${trigger.type} is not checked here`);
      continue;
    }
    for (const key of Object.keys(trigger.metadata))
      if (!known.has(key)) problems.push(`${trigger.type} trigger: unknown metadata ${key}`);
  }
  return problems;
}

/** What a ScaledObject or an HPA scales; KEDA defaults the kind to an apps/v1 Deployment. */
function scaleTarget(doc: Doc): { kind: string; name: string } {
  const ref = (doc.spec as { scaleTargetRef: { kind?: string; name: string } }).scaleTargetRef;
  return { kind: ref.kind ?? 'Deployment', name: ref.name };
}

/** A Secret's keys and values, whether given as `data` (base64) or as `stringData`. */
function secretValues(secret: Doc): Record<string, string> {
  return {
    ...Object.fromEntries(
      Object.entries((secret.data ?? {}) as Record<string, string>).map(([k, v]) => [
        k,
        Buffer.from(v, 'base64').toString(),
      ]),
    ),
    ...(secret.stringData as Record<string, string> | undefined),
  };
}

/**
 * The environment a container starts with, as Kubernetes builds it: its envFrom ConfigMaps and
 * Secrets, then its env entries (a value, or a ConfigMap or Secret key). `secrets` names the
 * variables that come from a Secret, whole Secrets included.
 */
function containerEnv(
  docs: Doc[],
  container: Container,
): { env: Record<string, string>; secrets: string[] } {
  const env: Record<string, string> = {};
  const secrets: string[] = [];
  const named = (kind: string, name: string): Doc => {
    const found = docs.find((d) => d.kind === kind && d.metadata.name === name);
    assert.ok(found, `${kind} ${name} exists`);
    return found;
  };
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(env, named('ConfigMap', source.configMapRef.name).data);
    if (source.secretRef) {
      const values = secretValues(named('Secret', source.secretRef.name));
      Object.assign(env, values);
      secrets.push(...Object.keys(values));
    }
  }
  for (const variable of container.env ?? []) {
    const { configMapKeyRef, secretKeyRef } = variable.valueFrom ?? {};
    const value =
      variable.value ??
      (configMapKeyRef &&
        (named('ConfigMap', configMapKeyRef.name).data as Record<string, string>)[
          configMapKeyRef.key
        ]) ??
      (secretKeyRef && secretValues(named('Secret', secretKeyRef.name))[secretKeyRef.key]);
    assert.ok(value !== undefined, `${container.name}: ${variable.name} has a value`);
    env[variable.name] = value;
    if (secretKeyRef) secrets.push(variable.name);
  }
  return { env, secrets };
}

/**
 * The environment KEDA resolves `*FromEnv` against: the target's container (the first unless
 * envSourceContainerName names one), with its ConfigMaps and Secrets resolved.
 */
function targetEnv(docs: Doc[], target: Doc, containerName?: string): Record<string, string> {
  const containers = podSpec(target).containers;
  const container = containerName
    ? containers.find((c) => c.name === containerName)
    : containers[0];
  assert.ok(container, `${target.metadata.name} has the container KEDA reads`);
  return containerEnv(docs, container).env;
}

/**
 * Each workload's process starts with the environment it is given (its own schema accepts it)
 * and holds no secret that schema does not read; the API no LLM key or SMTP credentials.
 * Returns the secrets each entry point is given.
 */
function assertEachProcessConfigured(docs: Doc[]): Map<EntryPoint, string[]> {
  const given = new Map<EntryPoint, string[]>();
  for (const doc of docs.filter((d) => d.kind === 'Deployment' || d.kind === 'Job')) {
    for (const container of podSpec(doc).containers) {
      const where = `${doc.metadata.name}/${container.name}`;
      const entry = container.args?.[0] ?? '';
      assert.ok(isEntryPoint(entry), `${where}: ${entry} has a configuration schema here`);
      const { schema } = entryPointConfigs[entry];
      const { env, secrets } = containerEnv(docs, container);
      for (const secret of secrets)
        assert.ok(
          secret in schema.shape,
          `${where} is given ${secret}, which ${entry} never reads`,
        );
      assert.doesNotThrow(() => loadConfig(env, schema), `${where}: ${entry} starts with its env`);
      given.set(entry, [...(given.get(entry) ?? []), ...secrets]);
      if (entry === 'dist/http/main.js')
        for (const secret of ['OPENAI_API_KEY', 'SMTP_URL'])
          assert.ok(!(secret in env), `${where} is given no ${secret}`);
    }
  }
  return given;
}

/** A trigger setting as KEDA reads it: the metadata value first, else the `<key>FromEnv` variable. */
function triggerSetting(
  trigger: ScaleTrigger,
  key: string,
  env: Record<string, string>,
): string | undefined {
  const fromEnv = trigger.metadata[`${key}FromEnv`];
  return trigger.metadata[key] ?? (fromEnv === undefined ? undefined : env[fromEnv]);
}

function positiveInteger(value: string | undefined, what: string): number {
  assert.match(value ?? '', /^[1-9]\d*$/, `${what} is a positive integer`);
  return Number(value);
}

const requestConsumerSource = join(root, 'src', 'consumers', 'report-request-consumer.ts');

/**
 * The worker and the request consumer scale on their backlog (KEDA), the API on CPU (an HPA),
 * and every scaler measures what the pods use. Returns what KEDA would dial, for the overlays.
 */
function assertBacklogScaling(docs: Doc[]): { temporal: string; kafka: string } {
  const byEntry = (entry: string): Doc => {
    const found = docs.find(
      (d) => d.kind === 'Deployment' && podSpec(d).containers[0]?.args?.[0] === entry,
    );
    assert.ok(found, `the Deployment running ${entry}`);
    return found;
  };
  const worker = byEntry('dist/worker/main.js');
  const consumer = byEntry('dist/consumers/main.js');
  const api = byEntry('dist/http/main.js');
  const scaledObjects = docs.filter((d) => d.kind === 'ScaledObject');
  const hpas = docs.filter((d) => d.kind === 'HorizontalPodAutoscaler');
  const targeting = (list: Doc[], deployment: Doc) =>
    list.filter((d) => {
      const target = scaleTarget(d);
      return target.kind === 'Deployment' && target.name === deployment.metadata.name;
    });

  for (const so of scaledObjects) {
    assert.deepEqual(scaledObjectProblems(so), [], `ScaledObject/${so.metadata.name}`);
    const target = scaleTarget(so);
    assert.ok(
      docs.some((d) => d.kind === target.kind && d.metadata.name === target.name),
      `${so.metadata.name} scales an existing ${target.kind}`,
    );
  }
  // KEDA refuses to scale a target that another HPA already scales; two HPAs would fight.
  for (const deployment of docs.filter((d) => d.kind === 'Deployment'))
    assert.ok(
      targeting([...scaledObjects, ...hpas], deployment).length <= 1,
      `${deployment.metadata.name} has one autoscaler at most`,
    );

  const keda = (deployment: Doc) => {
    assert.equal(
      targeting(hpas, deployment).length,
      0,
      `no HPA of ours scales ${deployment.metadata.name}`,
    );
    const [so, ...others] = targeting(scaledObjects, deployment);
    assert.ok(so && others.length === 0, `one ScaledObject scales ${deployment.metadata.name}`);
    const spec = so.spec as ScaledObjectSpec;
    const min = spec.minReplicaCount ?? 0;
    const max = spec.maxReplicaCount ?? 100;
    assert.ok(min >= 1, `${so.metadata.name}: no scaling to zero, requests keep flowing`);
    assert.ok(max >= min, `${so.metadata.name}: maxReplicaCount >= minReplicaCount`);
    // With the PodDisruptionBudget keeping minAvailable, one more pod lets a node drain.
    const labels = (
      deployment.spec as { template: { metadata: { labels: Record<string, string> } } }
    ).template.metadata.labels;
    const pdb = docs.find(
      (d) =>
        d.kind === 'PodDisruptionBudget' &&
        Object.entries(
          (d.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels,
        ).every(([k, v]) => labels[k] === v),
    );
    const minAvailable = (pdb?.spec as { minAvailable?: number } | undefined)?.minAvailable;
    assert.equal(minAvailable, 1, `${deployment.metadata.name} PDB`);
    assert.ok(min > minAvailable, `${so.metadata.name}: a pod can always be evicted`);
    const env = targetEnv(docs, deployment, spec.scaleTargetRef.envSourceContainerName);
    return { so, spec, env, max };
  };

  // The worker: one temporal trigger per task queue its process polls.
  const w = keda(worker);
  assert.ok(
    w.spec.triggers.every((t) => t.type === 'temporal'),
    'the worker scales on Temporal',
  );
  const reportQueue = w.env.TEMPORAL_TASK_QUEUE;
  assert.ok(reportQueue, 'the worker is given TEMPORAL_TASK_QUEUE');
  const llmQueue = llmTaskQueueFor(reportQueue);
  const queues = w.spec.triggers.map((t) => triggerSetting(t, 'taskQueue', w.env));
  assert.deepEqual(queues.sort(), [reportQueue, llmQueue].sort(), 'both task queues, once each');
  for (const trigger of w.spec.triggers) {
    const queue = triggerSetting(trigger, 'taskQueue', w.env)!;
    assert.equal(triggerSetting(trigger, 'endpoint', w.env), w.env.TEMPORAL_ADDRESS, queue);
    assert.equal(triggerSetting(trigger, 'namespace', w.env), w.env.TEMPORAL_NAMESPACE, queue);
    positiveInteger(trigger.metadata.targetQueueSize, `${queue} targetQueueSize`);
    const types = (trigger.metadata.queueTypes ?? '').split(',');
    assert.ok(
      types.every((t) => ['workflow', 'activity', 'nexus'].includes(t)),
      `${queue} queueTypes`,
    );
    // The report queue holds workflows and activities; the LLM queue only the LLM activity.
    const expected: string[] = queue === reportQueue ? ['activity', 'workflow'] : ['activity'];
    assert.deepEqual(types.sort(), expected, `${queue} counts the tasks it holds`);
  }

  // The request consumer: the lag of its group on the request topic.
  const c = keda(consumer);
  const [kafka, ...otherTriggers] = c.spec.triggers;
  assert.ok(kafka?.type === 'kafka' && otherTriggers.length === 0, 'one kafka trigger');
  assert.equal(triggerSetting(kafka, 'topic', c.env), c.env.TOPIC_REPORTS_REQUESTED);
  assert.equal(triggerSetting(kafka, 'consumerGroup', c.env), c.env.KAFKA_CONSUMER_GROUP);
  assert.equal(triggerSetting(kafka, 'bootstrapServers', c.env), c.env.KAFKA_BROKERS);
  positiveInteger(kafka.metadata.lagThreshold, 'lagThreshold');
  // A group without offsets starts where the consumer does.
  const fromBeginning = /fromBeginning:\s*true/.test(readFileSync(requestConsumerSource, 'utf8'));
  assert.equal(kafka.metadata.offsetResetPolicy, fromBeginning ? 'earliest' : 'latest');
  const partitions = kafkaTopics().find(
    (t) => t.name === c.env.TOPIC_REPORTS_REQUESTED,
  )?.partitions;
  assert.ok(partitions, 'the Kafka image creates the request topic');
  assert.notEqual(kafka.metadata.allowIdleConsumers, 'true', 'no idle consumers');
  assert.ok(c.max <= partitions, `at most one consumer per partition (${partitions})`);

  // The API keeps its CPU HPA.
  assert.equal(targeting(scaledObjects, api).length, 0, 'the API is not scaled by KEDA');
  const [apiHpa] = targeting(hpas, api);
  const metrics = (apiHpa?.spec as { metrics?: { type: string; resource?: { name: string } }[] })
    ?.metrics;
  assert.ok(
    metrics?.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu'),
    'the API scales on CPU',
  );

  return {
    temporal: triggerSetting(w.spec.triggers[0]!, 'endpoint', w.env)!,
    kafka: triggerSetting(kafka, 'bootstrapServers', c.env)!,
  };
}

describe('Kubernetes manifests (offline)', () => {
  let models: Record<string, Model>;
  before(async () => {
    models = await loadModels();
  });

  it('parse, and every resource matches its Kubernetes API schema', () => {
    const files = yamlFiles(k8s);
    assert.ok(files.length >= 12, `found ${files.length} YAML files`);
    for (const file of files) loadDocs(file);
    for (const doc of [...resources, secretTemplate]) {
      const Model = models[`${doc.apiVersion}/${doc.kind}`];
      assert.ok(Model, `no schema for ${doc.apiVersion} ${doc.kind}`);
      assert.doesNotThrow(
        () => new Model(doc as never).validate(),
        `${doc.kind}/${doc.metadata.name} is valid`,
      );
    }
    const kinds = resources.map((d) => d.kind).sort();
    for (const kind of ['Namespace', 'ConfigMap', 'Service', 'Ingress', 'ServiceMonitor', 'Job'])
      assert.ok(kinds.includes(kind), kind);
    assert.equal(kinds.filter((k) => k === 'Deployment').length, 3);
    assert.equal(kinds.filter((k) => k === 'PodDisruptionBudget').length, 3);
    // The API's; the worker and the consumer scale with KEDA (which creates their HPAs).
    assert.equal(kinds.filter((k) => k === 'HorizontalPodAutoscaler').length, 1);
    assert.equal(kinds.filter((k) => k === 'ScaledObject').length, 2);
  });

  it('a deliberately broken Deployment fails the schema check', () => {
    const deployment = structuredClone(resources.find((d) => d.kind === 'Deployment')!);
    (deployment.spec as { replicas: unknown }).replicas = 'two';
    const Deployment = models['apps/v1/Deployment']!;
    assert.throws(() => new Deployment(deployment as never).validate());
  });

  it('a deliberately broken ScaledObject fails the schema check', () => {
    const ScaledObject = models['keda.sh/v1alpha1/ScaledObject']!;
    const scaledObject = structuredClone(resources.find((d) => d.kind === 'ScaledObject')!);
    assert.doesNotThrow(() => new ScaledObject(scaledObject as never).validate());
    // An unquoted number in YAML: KEDA's CRD takes trigger metadata as strings only.
    const trigger = (scaledObject.spec as ScaledObjectSpec).triggers[0]!;
    (trigger.metadata as Record<string, unknown>).targetQueueSize = 10;
    assert.throws(() => new ScaledObject(scaledObject as never).validate(), /must be string/);
    const noTriggers = structuredClone(scaledObject);
    delete (noTriggers.spec as Partial<ScaledObjectSpec>).triggers;
    assert.throws(() => new ScaledObject(noTriggers as never).validate(), /triggers/);
  });

  it('a misspelled ScaledObject setting, which the schema lets through, is caught', () => {
    const ScaledObject = models['keda.sh/v1alpha1/ScaledObject']!;
    const consumer = resources.find(
      (d) =>
        d.kind === 'ScaledObject' &&
        (d.spec as ScaledObjectSpec).triggers.some((t) => t.type === 'kafka'),
    )!;
    assert.deepEqual(scaledObjectProblems(consumer), []);
    const broken = structuredClone(consumer);
    const spec = broken.spec as ScaledObjectSpec;
    // KEDA would scale on its default lag of 10 and ignore the HPA-style field.
    spec.triggers[0]!.metadata = { ...spec.triggers[0]!.metadata, lagTreshold: '50' };
    spec.minReplicas = 2;
    assert.doesNotThrow(() => new ScaledObject(broken as never).validate(), 'schema-valid');
    assert.deepEqual(scaledObjectProblems(broken).sort(), [
      'kafka trigger: unknown metadata lagTreshold',
      'spec.minReplicas is not a ScaledObject field',
    ]);
  });

  it('scale the worker and the consumer on their backlog with KEDA, and the API on CPU', () => {
    const dialled = assertBacklogScaling([...resources, secretTemplate]);
    assert.equal(dialled.temporal, configMapData.TEMPORAL_ADDRESS);
    assert.equal(dialled.kafka, configMapData.KAFKA_BROKERS);
  });

  it('a worker ScaledObject that misses the LLM queue, or a consumer one past the partitions, fails', () => {
    const docs = [...resources, secretTemplate];
    const withSpec = (kafka: boolean, change: (spec: ScaledObjectSpec) => void): Doc[] =>
      docs.map((d) => {
        if (d.kind !== 'ScaledObject') return d;
        const spec = d.spec as ScaledObjectSpec;
        if (spec.triggers.some((t) => t.type === 'kafka') !== kafka) return d;
        const copy = structuredClone(d);
        change(copy.spec as ScaledObjectSpec);
        return copy;
      });
    assert.throws(
      () => assertBacklogScaling(withSpec(false, (spec) => void spec.triggers.pop())),
      /both task queues/,
    );
    assert.throws(
      () =>
        assertBacklogScaling(
          withSpec(false, (spec) => {
            const llm = spec.triggers.find((t) => t.metadata.taskQueue?.endsWith('-llm'));
            llm!.metadata.taskQueue = 'report-generation-llm-v2';
          }),
        ),
      /both task queues/,
    );
    assert.throws(
      () => assertBacklogScaling(withSpec(true, (spec) => void (spec.maxReplicaCount = 10))),
      /one consumer per partition/,
    );
    assert.throws(
      () =>
        assertBacklogScaling(
          withSpec(true, (spec) => {
            spec.triggers[0]!.metadata.topic = 'reports.completed';
          }),
        ),
      /reports\.completed/,
    );
    const withWorkerHpa = [
      ...docs,
      {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: 'report-pipeline-worker' },
        spec: { scaleTargetRef: { kind: 'Deployment', name: 'report-pipeline-worker' } },
      },
    ];
    assert.throws(() => assertBacklogScaling(withWorkerHpa), /one autoscaler at most/);
  });

  it('reference only ConfigMap and Secret keys that exist, each under its own name', () => {
    for (const key of [...Object.keys(configMapData), ...Object.keys(secretData)])
      assert.ok(knownVariables.includes(key), `${key} is a configuration variable`);
    for (const doc of workloads) {
      for (const container of podSpec(doc).containers) {
        const where = `${doc.metadata.name}/${container.name}`;
        for (const source of container.envFrom ?? []) {
          if (source.configMapRef)
            assert.equal(source.configMapRef.name, configMap.metadata.name, where);
          if (source.secretRef)
            assert.equal(source.secretRef.name, secretTemplate.metadata.name, where);
        }
        for (const variable of container.env ?? []) {
          const { configMapKeyRef, secretKeyRef } = variable.valueFrom ?? {};
          const ref = configMapKeyRef ?? secretKeyRef;
          if (!ref) continue;
          const source = configMapKeyRef ? configMap : secretTemplate;
          const data = configMapKeyRef ? configMapData : secretData;
          assert.equal(ref.name, source.metadata.name, `${where}: ${variable.name}`);
          assert.ok(ref.key in data, `${where}: ${ref.name}/${ref.key} exists`);
          assert.equal(ref.key, variable.name, `${where}: ${ref.key} keeps its name`);
        }
      }
    }
  });

  it('give each process the settings its own schema accepts, and only the secrets it reads', () => {
    const given = assertEachProcessConfigured([...resources, secretTemplate]);
    assert.deepEqual(
      Object.fromEntries([...given].map(([entry, secrets]) => [entry, secrets.sort()])),
      {
        'dist/http/main.js': ['API_KEYS', 'DATABASE_URL'],
        'dist/worker/main.js': ['DATABASE_URL', 'OPENAI_API_KEY', 'SMTP_URL'],
        'dist/consumers/main.js': ['DATABASE_URL'],
        'dist/release/main.js': ['DATABASE_URL'],
      },
    );
    // Nothing given to every pod that no process reads.
    const read = new Set(
      Object.values(entryPointConfigs).flatMap(({ schema }) => Object.keys(schema.shape)),
    );
    for (const key of [...Object.keys(configMapData), ...Object.keys(secretData)])
      assert.ok(read.has(key), `some process reads ${key}`);
    // And each entry point loads the schema it is checked with here.
    for (const [entry, { name }] of Object.entries(entryPointConfigs))
      assert.match(
        readFileSync(sourceOf(entry), 'utf8'),
        new RegExp(`loadConfig\\(process\\.env,\\s*${name}\\)`),
        `${entry} loads ${name}`,
      );
  });

  it('a workload given a secret it never reads, or missing one it needs, fails the check', () => {
    const byEntry = (docs: Doc[], entry: string) =>
      docs.find(
        (d) =>
          (d.kind === 'Deployment' || d.kind === 'Job') &&
          podSpec(d).containers[0]?.args?.[0] === entry,
      )!;
    const withWholeSecret = structuredClone([...resources, secretTemplate]);
    podSpec(byEntry(withWholeSecret, 'dist/http/main.js')).containers[0]!.envFrom!.push({
      secretRef: { name: secretTemplate.metadata.name },
    });
    assert.throws(
      () => assertEachProcessConfigured(withWholeSecret),
      /report-pipeline-api\/api is given (OPENAI_API_KEY|SMTP_URL), which dist\/http\/main\.js never reads/,
    );
    const withoutSmtp = structuredClone([...resources, secretTemplate]);
    const worker = podSpec(byEntry(withoutSmtp, 'dist/worker/main.js')).containers[0]!;
    worker.env = worker.env!.filter((e) => e.name !== 'SMTP_URL');
    assert.throws(
      () => assertEachProcessConfigured(withoutSmtp),
      /SMTP_URL: is required but not set/,
    );
  });

  it('use the image and entry points the Dockerfile builds', () => {
    const docker = dockerfile();
    assert.deepEqual(docker.entrypoint.slice(0, 1), ['node']);
    assert.notEqual(docker.user, 'root');
    assert.ok(docker.copies.includes('./dist'), 'the runtime stage has dist/');
    const imageName = kustomization.images[0]!.name;
    const entries = new Set<string>();
    for (const doc of workloads) {
      for (const container of podSpec(doc).containers) {
        const where = `${doc.metadata.name}/${container.name}`;
        assert.equal(container.image.split(':')[0], imageName, `${where} image`);
        assert.equal(container.command, undefined, `${where} keeps the image's ENTRYPOINT`);
        const entry = container.args?.[0] ?? '';
        assert.match(entry, /^dist\/.+\.js$/, where);
        assert.ok(
          existsSync(sourceOf(entry)),
          `${where}: ${entry} is built from ${relative(root, sourceOf(entry))}`,
        );
        entries.add(entry);
        for (const port of container.ports ?? [])
          assert.ok(
            docker.exposed.includes(port.containerPort),
            `${where} port ${port.containerPort} is exposed`,
          );
        for (const probe of [container.livenessProbe, container.readinessProbe]) {
          if (!probe) continue;
          assert.ok(
            (container.ports ?? []).some((p) => p.name === probe.httpGet.port),
            `${where} probes a named port`,
          );
        }
      }
    }
    assert.deepEqual([...entries].sort(), [
      'dist/consumers/main.js',
      'dist/http/main.js',
      'dist/release/main.js',
      'dist/worker/main.js',
    ]);
  });

  it('roll out without losing capacity, and give the worker time to drain', () => {
    const grace = Number(configMapData.WORKER_SHUTDOWN_GRACE_SECONDS);
    for (const deployment of resources.filter((d) => d.kind === 'Deployment')) {
      const spec = deployment.spec as {
        replicas: number;
        strategy: { rollingUpdate: { maxUnavailable: number; maxSurge: number } };
        selector: { matchLabels: Record<string, string> };
        template: { metadata: { labels: Record<string, string> } };
      };
      const name = deployment.metadata.name;
      assert.equal(spec.replicas, 2, name);
      assert.deepEqual(spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 }, name);
      const pod = podSpec(deployment);
      assert.ok((pod.terminationGracePeriodSeconds ?? 30) >= grace + 5, `${name} grace period`);
      const labels = spec.template.metadata.labels;
      const selects = (selector: Record<string, string>) =>
        Object.entries(selector).every(([k, v]) => labels[k] === v);
      assert.ok(selects(spec.selector.matchLabels), `${name} selects its pods`);
      const pdb = resources.find(
        (d) =>
          d.kind === 'PodDisruptionBudget' &&
          selects(
            (d.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels,
          ),
      );
      assert.equal((pdb?.spec as { minAvailable?: number }).minAvailable, 1, `${name} PDB`);
      const service = resources.find(
        (d) =>
          d.kind === 'Service' &&
          selects((d.spec as { selector: Record<string, string> }).selector),
      );
      assert.ok(service, `${name} has a Service`);
    }
    for (const hpa of resources.filter((d) => d.kind === 'HorizontalPodAutoscaler')) {
      const target = (hpa.spec as { scaleTargetRef: { kind: string; name: string } })
        .scaleTargetRef;
      assert.ok(
        resources.some((d) => d.kind === target.kind && d.metadata.name === target.name),
        `${hpa.metadata.name} scales an existing ${target.kind}`,
      );
    }
    const ingress = resources.find((d) => d.kind === 'Ingress')!;
    const backend = (
      ingress.spec as {
        rules: {
          http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] };
        }[];
      }
    ).rules[0]!.http.paths[0]!.backend.service;
    const apiService = resources.find(
      (d) => d.kind === 'Service' && d.metadata.name === backend.name,
    );
    assert.ok(
      (apiService?.spec as { ports: { name: string }[] }).ports.some(
        (p) => p.name === backend.port.name,
      ),
      'the Ingress points at a named port of the API Service',
    );
    const monitor = resources.find((d) => d.kind === 'ServiceMonitor')!;
    const monitorSpec = monitor.spec as {
      selector: { matchLabels: Record<string, string> };
      endpoints: { port: string }[];
    };
    const scraped = resources.filter(
      (d) =>
        d.kind === 'Service' &&
        Object.entries(monitorSpec.selector.matchLabels).every(
          ([k, v]) => (d.metadata as { labels?: Record<string, string> }).labels?.[k] === v,
        ),
    );
    assert.equal(scraped.length, 3, 'the ServiceMonitor finds api, worker and consumer');
    for (const service of scraped)
      assert.ok(
        (service.spec as { ports: { name: string }[] }).ports.some((p) =>
          monitorSpec.endpoints.some((e) => e.port === p.name),
        ),
        `${service.metadata.name} has a scraped port`,
      );
  });

  it('the local overlay refers to what the base defines', () => {
    const overlayDir = join(k8s, 'overlays', 'local');
    const overlay = loadDocs(join(overlayDir, 'kustomization.yaml'))[0] as unknown as {
      resources: string[];
      configMapGenerator: { name: string; literals: string[] }[];
      secretGenerator: { name: string; literals: string[] }[];
      patches: { target: { kind: string; name: string } }[];
    };
    for (const resource of overlay.resources)
      assert.ok(existsSync(join(overlayDir, resource, 'kustomization.yaml')), resource);
    for (const generator of overlay.configMapGenerator) {
      assert.equal(generator.name, configMap.metadata.name);
      for (const literal of generator.literals)
        assert.ok(knownVariables.includes(literal.split('=')[0]!), literal);
    }
    const secretKeys = overlay.secretGenerator[0]!.literals.map((l) => l.split('=')[0]).sort();
    assert.deepEqual(secretKeys, Object.keys(secretData).sort(), 'the same keys as the template');
    for (const patch of overlay.patches)
      assert.ok(
        resources.some(
          (d) => d.kind === patch.target.kind && d.metadata.name === patch.target.name,
        ),
        `patch target ${patch.target.kind}/${patch.target.name}`,
      );
    for (const generator of kustomization.configMapGenerator)
      for (const file of generator.files)
        assert.ok(existsSync(join(base, file.split('=').at(-1)!)), file);
  });

  it('the Grafana dashboard queries only metrics the service exports', () => {
    const file = kustomization.configMapGenerator[0]!.files[0]!.split('=').at(-1)!;
    const dashboard = JSON.parse(readFileSync(join(base, file), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const registry = new Registry();
    createServiceMetrics(registry);
    const exported = new Set([
      ...registry.getMetricsAsArray().map((m) => m.name),
      'http_request_duration_seconds',
      'report_consumer_lag_messages',
      'report_outbox_backlog_events',
    ]);
    const promqlWords = new Set([
      'sum',
      'by',
      'rate',
      'increase',
      'max',
      'histogram_quantile',
      'le',
    ]);
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      assert.ok(panel.targets.length > 0, panel.title);
      for (const { expr } of panel.targets) {
        const withoutLabels = expr
          .replace(/\{[^}]*\}/g, '')
          .replace(/\[[^\]]*\]/g, '')
          .replace(/by \([^)]*\)/g, '');
        for (const [word] of withoutLabels.matchAll(/[a-z_][a-z0-9_]*/g)) {
          if (promqlWords.has(word)) continue;
          const metric = word.replace(/_(bucket|count|sum)$/, '');
          assert.ok(exported.has(metric), `${panel.title}: ${word} is exported`);
          used.add(metric);
        }
      }
    }
    for (const needed of [
      'reports_finished_total',
      'report_requests_dead_lettered_total',
      'report_consumer_lag_messages',
      'report_llm_tokens_total',
      'report_llm_estimated_cost_usd_total',
      'http_request_duration_seconds',
    ])
      assert.ok(used.has(needed), `the dashboard shows ${needed}`);
  });
});

describe('kustomize build (offline)', () => {
  let models: Record<string, Model>;
  let build: (dir: string) => Doc[];
  before(async () => {
    models = await loadModels();
    const kustomize = await kustomizeCli();
    build = (dir) =>
      parseAllDocuments(
        execFileSync(kustomize, ['build', join(k8s, dir)], { encoding: 'utf8' }),
      ).map((d) => d.toJS() as Doc);
  });

  function assertRenderedValid(docs: Doc[]): void {
    for (const doc of docs) {
      // kustomize folds long base64 values over lines; Kubernetes' decoder skips the newlines.
      if (doc.kind === 'Secret' && doc.data)
        doc.data = Object.fromEntries(
          Object.entries(doc.data as Record<string, string>).map(([k, v]) => [
            k,
            v.replace(/\s/g, ''),
          ]),
        );
      const Model = models[`${doc.apiVersion}/${doc.kind}`];
      assert.ok(Model, `no schema for ${doc.apiVersion} ${doc.kind}`);
      assert.doesNotThrow(
        () => new Model(doc as never).validate(),
        `${doc.kind}/${doc.metadata.name} is valid`,
      );
      assert.equal(
        (doc.metadata as { namespace?: string }).namespace ?? 'report-pipeline',
        'report-pipeline',
        `${doc.kind}/${doc.metadata.name} namespace`,
      );
    }
    // Every ConfigMap or Secret a container names is one the build produced (generators add
    // hashes), or the Secret the base leaves to the cluster.
    const names = new Set(docs.map((d) => `${d.kind}/${d.metadata.name}`));
    const secretExists = (name: string) =>
      names.has(`Secret/${name}`) || name === secretTemplate.metadata.name;
    for (const doc of docs.filter((d) => d.kind === 'Deployment' || d.kind === 'Job'))
      for (const container of podSpec(doc).containers) {
        for (const source of container.envFrom ?? []) {
          if (source.configMapRef) assert.ok(names.has(`ConfigMap/${source.configMapRef.name}`));
          if (source.secretRef) assert.ok(secretExists(source.secretRef.name));
        }
        for (const { valueFrom } of container.env ?? []) {
          if (valueFrom?.configMapKeyRef)
            assert.ok(names.has(`ConfigMap/${valueFrom.configMapKeyRef.name}`));
          if (valueFrom?.secretKeyRef) assert.ok(secretExists(valueFrom.secretKeyRef.name));
        }
      }
  }

  it('renders the base: the published image, the dashboard ConfigMap, every resource valid', () => {
    const docs = build('base');
    assertRenderedValid(docs);
    // The base leaves the Secret to the cluster (secret.template.yaml); KEDA reads it there.
    assertBacklogScaling([...docs, secretTemplate]);
    assertEachProcessConfigured([...docs, secretTemplate]);
    for (const doc of docs.filter((d) => d.kind === 'Deployment'))
      assert.match(podSpec(doc).containers[0]!.image, /^registry\.example\.com\/report-pipeline:/);
    const dashboard = docs.find((d) => d.metadata.name === 'report-pipeline-dashboard');
    assert.ok(dashboard, 'the dashboard ConfigMap');
    assert.doesNotThrow(() =>
      JSON.parse((dashboard.data as Record<string, string>)['report-pipeline.json']!),
    );
  });

  it('renders the local overlay: local image, merged settings, a generated Secret, no ServiceMonitor', () => {
    const docs = build('overlays/local');
    assertRenderedValid(docs);
    // KEDA dials what the overlay gives the pods, without a patch of the ScaledObjects.
    assert.deepEqual(assertBacklogScaling(docs), {
      temporal: 'host.docker.internal:7233',
      kafka: 'host.docker.internal:9092',
    });
    // The image docker-compose.yml builds, which the tests run (deploy/service-image.test.ts).
    for (const doc of docs.filter((d) => d.kind === 'Deployment' || d.kind === 'Job'))
      assert.equal(podSpec(doc).containers[0]!.image, imageOf('release'));
    assert.equal(docs.filter((d) => d.kind === 'ServiceMonitor').length, 0);
    const settings = docs.find(
      (d) => d.kind === 'ConfigMap' && d.metadata.name.startsWith('report-pipeline-config'),
    )!;
    const data = settings.data as Record<string, string>;
    assert.equal(data.TEMPORAL_ADDRESS, 'host.docker.internal:7233', 'overridden');
    assert.equal(data.TOPIC_REPORTS_REQUESTED, 'reports.requested', 'kept from the base');
    const secret = docs.find((d) => d.kind === 'Secret')!;
    assert.deepEqual(Object.keys(secret.data as object).sort(), Object.keys(secretData).sort());
    // What the overlay renders starts every process, each with only its own secrets.
    assertEachProcessConfigured(docs);
  });
});

describe('docker-compose.yml (offline)', () => {
  const compose = parseYaml(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), {
    merge: true,
  }) as {
    services: Record<
      string,
      {
        image?: string;
        build?: { context: string; dockerfile?: string; args?: Record<string, string> };
        command?: string[];
        environment?: Record<string, string>;
      }
    >;
  };

  it('runs the Dockerfile’s entry points with valid settings', () => {
    for (const name of ['release', 'worker', 'consumer', 'api']) {
      const service = compose.services[name]!;
      assert.equal(service.build?.context, '.', `${name} builds ./Dockerfile`);
      assert.equal(service.image, `report-pipeline:${packageVersion}`, `${name} image`);
      const entry = service.command?.[0] ?? '';
      assert.ok(existsSync(sourceOf(entry)), `${name}: ${entry}`);
      for (const key of Object.keys(service.environment ?? {}))
        assert.ok(knownVariables.includes(key), `${name}: ${key}`);
    }
  });

  it('gives each process only the settings its own schema reads, the API no LLM key or SMTP URL', () => {
    for (const name of ['release', 'worker', 'consumer', 'api']) {
      const service = compose.services[name]!;
      const entry = service.command?.[0] ?? '';
      assert.ok(isEntryPoint(entry), `${name}: ${entry}`);
      const { schema } = entryPointConfigs[entry];
      // Compose's own ${VAR:-default} substitution, with nothing set in the shell.
      const env = Object.fromEntries(
        Object.entries(service.environment ?? {}).map(([key, value]) => [
          key,
          String(value).replace(/\$\{[A-Z_]+:?-([^}]*)\}/g, '$1'),
        ]),
      );
      for (const key of Object.keys(env))
        assert.ok(key in schema.shape, `${name} is given ${key}, which ${entry} never reads`);
      assert.doesNotThrow(() => loadConfig(env, schema), `${name}: ${entry} starts with its env`);
    }
    const api = Object.keys(compose.services.api!.environment ?? {});
    for (const secret of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'SMTP_URL'])
      assert.ok(!api.includes(secret), `the API is given no ${secret}`);
  });

  it('builds every server from its own Dockerfile in docker/, on the BASE it is given', () => {
    // Compose service -> its folder in docker/ (the LLM is the local model; the tests' stand-in
    // is a service of its own).
    const folders: Record<string, string> = {
      postgres: 'postgres',
      temporal: 'temporal',
      kafka: 'kafka',
      registry: 'registry',
      maildev: 'maildev',
      llm: 'llm-local',
      'llm-stand-in': 'llm',
    };
    for (const [name, folder] of Object.entries(folders)) {
      const service = compose.services[name]!;
      assert.equal(service.build?.context, 'docker', name);
      assert.equal(service.build?.dockerfile, `${folder}/Dockerfile`, name);
      assert.ok(existsSync(join(root, 'docker', folder, 'Dockerfile')), name);
      assert.equal(service.build?.args?.BASE, '${BASE_IMAGE:-debian:bookworm-slim}', name);
      // A local build never takes the name of an official image.
      assert.match(service.image ?? '', /^report-pipeline-[a-z-]+:\w[\w.-]*$/, name);
    }
    for (const file of [
      'Dockerfile',
      ...Object.values(folders).map((folder) => `docker/${folder}/Dockerfile`),
    ]) {
      const text = readFileSync(join(root, file), 'utf8');
      assert.match(
        text,
        /^ARG BASE=debian:bookworm-slim$/m,
        `${file} takes its base as an argument`,
      );
      for (const from of text.matchAll(/^FROM (\S+)/gm))
        assert.ok(!from[1]!.includes(':') || from[1] === '${BASE}', `${file}: FROM ${from[1]}`);
    }
  });
});
