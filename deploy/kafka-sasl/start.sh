#!/bin/bash
# Entrypoint of docker-compose.yml's kafka service with SASL/SCRAM-SHA-256 + ACLs (docs/security.md).
# Mounted read-only at /etc/kafka-sasl with server.properties, log4j.properties, client-admin.properties.
#
# Why a script of our own: the image's entrypoint formats KRaft storage without `--add-scram`, and SCRAM
# credentials can only be bootstrapped at format time (nobody can log in to create the first one later).
set -euo pipefail

here=/etc/kafka-sasl
kafka_home=${KAFKA_HOME:-/opt/kafka}
data_dir=/var/lib/kafka/data  # = log.dirs in server.properties (the kafka-data volume)

: "${CLUSTER_ID:?set CLUSTER_ID (fixed: the data volume is formatted with it)}"
: "${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD in the .env file (docs/security.md)}"
if [[ ! "$KAFKA_ADMIN_PASSWORD" =~ ^[A-Za-z0-9_.~-]{16,256}$ ]]; then
  echo "KAFKA_ADMIN_PASSWORD: 16-256 characters of A-Z a-z 0-9 _ . ~ - (it goes through kafka-storage --add-scram)" >&2
  exit 2
fi
# read by server.properties through EnvVarConfigProvider (${env:...})
export KAFKA_ADVERTISED_HOST=${KAFKA_ADVERTISED_HOST:-localhost}
export KAFKA_HOST_PORT=${KAFKA_HOST_PORT:-9092}
export KAFKA_NUM_PARTITIONS=${KAFKA_NUM_PARTITIONS:-12}
export KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:-"-Dlog4j.configuration=file:$here/log4j.properties"}

# Only the first start formats. A volume formatted earlier by the PLAINTEXT setup holds no SCRAM user, so
# nobody could log in: start from an empty kafka-data volume (docs/security.md, "Switching compose").
if [[ ! -f "$data_dir/meta.properties" ]]; then
  echo "formatting $data_dir (cluster $CLUSTER_ID) with the SCRAM-SHA-256 credential of admin"
  "$kafka_home/bin/kafka-storage.sh" format --cluster-id "$CLUSTER_ID" --config "$here/server.properties" \
    --ignore-formatted --add-scram "SCRAM-SHA-256=[name=admin,password=$KAFKA_ADMIN_PASSWORD]"
fi

exec "$kafka_home/bin/kafka-server-start.sh" "$here/server.properties"
