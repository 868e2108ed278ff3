/**
 * Registers a schema through the registry's REST API, for what the client library would check
 * and refuse to send: schemas the registry keeps but an Avro library cannot parse, other types.
 */
export async function registerSchemaRaw(
  registryUrl: string,
  subject: string,
  body: { schema: string; schemaType?: 'AVRO' | 'JSON' | 'PROTOBUF' },
): Promise<number> {
  const response = await fetch(`${registryUrl}/subjects/${subject}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as { id?: number; message?: string };
  if (!response.ok || answer.id === undefined)
    throw new Error(`registering ${subject}: ${response.status} ${JSON.stringify(answer)}`);
  return answer.id;
}
