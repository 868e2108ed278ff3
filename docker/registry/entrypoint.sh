#!/bin/bash
# Starts the registry, waits for it to be ready, sets the global compatibility rule, then marks
# the container ready.
set -euo pipefail
rm -f /tmp/registry-ready
# shellcheck disable=SC2086
java $JAVA_OPTS \
  -Dquarkus.http.host=0.0.0.0 -Dquarkus.http.port=8080 \
  -Dquarkus.management.host=0.0.0.0 -Dquarkus.management.port=9000 \
  -Dquarkus.otel.sdk.disabled=true \
  -Dapicurio.datasource.url=jdbc:h2:file:/data/registry \
  -jar /opt/apicurio/quarkus-run.jar "$@" &
registry=$!
trap 'kill -TERM $registry 2>/dev/null' TERM INT

(
  until curl -fs -o /dev/null http://127.0.0.1:9000/health/ready; do sleep 0.5; done
  curl -fsS -o /dev/null -X PUT -H 'content-type: application/vnd.schemaregistry.v1+json' \
    -d "{\"compatibility\":\"$REGISTRY_COMPATIBILITY\"}" http://127.0.0.1:8080/apis/ccompat/v7/config
  touch /tmp/registry-ready
  echo "registry: ready, global compatibility $REGISTRY_COMPATIBILITY"
) &

wait $registry || true
wait $registry
