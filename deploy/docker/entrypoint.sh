#!/bin/sh
# orderflow-entrypoint: runs the command it is given (`payment-service …`, `dlq-tool …`) with `exec`,
# so the binary is PID 1 and receives SIGTERM itself.
#
# INSTANCE_ID (--instance-id) names the exactly-once transactional.id `<group-id>-<instance-id>` and
# must differ between instances of a group. When it is unset, it defaults to the container's hostname:
# unique per replica under Compose (`deploy.replicas`, `--scale`: the container id) and stable per pod
# in a Kubernetes StatefulSet (payment-service-0, -1, …). Set INSTANCE_ID explicitly to override.
set -eu
if [ -z "${INSTANCE_ID:-}" ]; then
  INSTANCE_ID=$(uname -n)
  export INSTANCE_ID
fi
if [ "$#" -eq 0 ]; then
  echo "orderflow-entrypoint: no command; run one of: order-producer payment-service notification-service analytics-service dlq-tool lag-exporter kafka-dev-broker" >&2
  exit 2
fi
exec "$@"
