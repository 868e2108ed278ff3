import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { imageOf, testImageService, type ServerName } from '../docker';

/** Where a server is started: the run's Docker network and the labels that find it again. */
export interface ServerContext {
  network: string;
  labels: Record<string, string>;
}

export interface RunningServer {
  name: ServerName;
  container: StartedTestContainer;
  /** The service's settings (and the tests' endpoints) that reach this server from this machine. */
  env: Record<string, string>;
  /** Where a person reaches it. */
  endpoints: string[];
}

/**
 * One server the service needs. Its image (docker/<name>/Dockerfile) holds its configuration and
 * its health check; a definition only says how a run starts it and what it offers.
 */
export interface ServerDefinition {
  name: ServerName;
  /** The service's settings for containers on the same network, which reach it by its name. */
  inNetworkEnv: Record<string, string>;
  start(context: ServerContext): Promise<RunningServer>;
}

/** The host published ports are reached on (testcontainers resolves the same one). */
export const publishedHost = (): string => process.env.TESTCONTAINERS_HOST_OVERRIDE ?? 'localhost';

/**
 * The server's image on the run's network under its own name, labelled, ready when the image's
 * HEALTHCHECK says so.
 */
export function serverContainer(name: ServerName, context: ServerContext): GenericContainer {
  return new GenericContainer(imageOf(testImageService(name)))
    .withNetworkMode(context.network)
    .withNetworkAliases(name)
    .withLabels({ ...context.labels, 'report-pipeline.server': name })
    .withWaitStrategy(Wait.forHealthCheck())
    .withStartupTimeout(180_000);
}

export function hostPort(container: StartedTestContainer, port: number): string {
  return `${container.getHost()}:${container.getMappedPort(port)}`;
}
