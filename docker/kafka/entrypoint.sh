#!/bin/bash
# Writes the broker's settings, formats the data folder once, starts the broker, then creates
# the topics in KAFKA_TOPICS that do not exist yet and marks the container ready.
set -euo pipefail
data=/var/lib/kafka/data
conf=/tmp/server.properties
internal_host=${KAFKA_INTERNAL_HOST:-$(hostname)}
rm -f /tmp/kafka-ready
cat >"$conf" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:19092,LOCAL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093
advertised.listeners=INTERNAL://${internal_host}:9092,EXTERNAL://${KAFKA_EXTERNAL_ADDRESS},LOCAL://127.0.0.1:9094
listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,LOCAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
log.dirs=$data
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
PROPS

java_cmd=(java $KAFKA_HEAP_OPTS -XX:+UseG1GC -Djava.awt.headless=true
  -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties -cp '/opt/kafka/libs/*')

if [ ! -f "$data/meta.properties" ]; then
  # A cluster id is 16 random bytes in URL-safe base64; one starting with '-' would be read as a flag.
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    [ "${id:0:1}" != "-" ] && break
  done
  "${java_cmd[@]}" -XX:TieredStopAtLevel=1 kafka.tools.StorageTool format -t "$id" -c "$conf" --ignore-formatted >/dev/null
fi

"${java_cmd[@]}" kafka.Kafka "$conf" &
broker=$!
trap 'kill -TERM $broker 2>/dev/null' TERM INT

(
  until (exec 3<>/dev/tcp/127.0.0.1/9094) 2>/dev/null; do sleep 0.5; done
  # shellcheck disable=SC2086
  if ! java -Xms32m -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties \
    -cp '/opt/kafka/tools:/opt/kafka/libs/*' CreateTopics 127.0.0.1:9094 $KAFKA_TOPICS >/dev/null; then
    echo "kafka: creating the topics $KAFKA_TOPICS failed; stopping" >&2
    kill -TERM $broker
    exit 1
  fi
  touch /tmp/kafka-ready
  echo "kafka: ready, topics: $KAFKA_TOPICS"
) &

wait $broker || true
wait $broker
