#!/bin/bash
# InfluxQL for Grafana on InfluxDB 2.x: map the database/retention policy the data source queries
# (INFLUX_DB, default "ioc", with "autogen") to the bucket the workers write to.
#
# Run by the influxdb:2.x image exactly once, right after `influx setup` on an empty data volume
# (docker-compose.yml mounts this directory at /docker-entrypoint-initdb.d). The image exports
# DOCKER_INFLUXDB_INIT_BUCKET_ID and has configured the influx CLI with the admin token. A failure
# here aborts the initialisation (the image then wipes the half-initialised volume), so it stays minimal.
# The mapping is physical: it takes precedence over the virtual one InfluxDB derives from bucket names.
set -euo pipefail

db="${DBRP_DATABASE:-ioc}"
rp="${DBRP_RETENTION_POLICY:-autogen}"
bucket_id="${DOCKER_INFLUXDB_INIT_BUCKET_ID:?the influxdb image sets it after setup}"
org="${DOCKER_INFLUXDB_INIT_ORG:?set by docker-compose.yml}"

influx v1 dbrp create --org "$org" --bucket-id "$bucket_id" --db "$db" --rp "$rp" --default
echo "ioc: InfluxQL database '${db}' (retention policy '${rp}') reads bucket '${DOCKER_INFLUXDB_INIT_BUCKET:-}'"

# The workers write the snapshot measurements (kpi, ii06a, i766, i766_sum) into "<bucket>/live", kept a day
# (streams.influx.LIVE_RP; docs/influxdb.md "Volume and retention"); the boards read them as "live"."kpi".
live="${DOCKER_INFLUXDB_INIT_BUCKET:?set by docker-compose.yml}/live"
live_id="$(influx bucket create --org "$org" --name "$live" --retention "${LIVE_RETENTION:-24h}" \
  --shard-group-duration 1h --hide-headers | cut -f1)"
influx v1 dbrp create --org "$org" --bucket-id "$live_id" --db "$db" --rp live
echo "ioc: InfluxQL retention policy '${db}.live' reads bucket '${live}'"
