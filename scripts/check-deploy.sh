#!/usr/bin/env bash
# Checks the deployment artifacts: the Helm chart lints and renders in its main
# configurations, and the Prometheus alert rules parse.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.16.4
HELM="$(go env GOPATH 2>/dev/null)/bin/helm"
if ! "$HELM" version --short 2>/dev/null | grep -q "${HELM_VERSION}"; then
  echo "check-deploy: building helm ${HELM_VERSION} from the Go module proxy"
  go install "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
fi

"$HELM" lint helm/herald
for args in "" "--set persistence.enabled=false" "--set metrics.serviceMonitor.enabled=true" \
            "--set replicaCount=3 --set podDisruptionBudget.enabled=false"; do
  # shellcheck disable=SC2086
  out=$("$HELM" template herald helm/herald $args)
  grep -q 'kind: StatefulSet' <<<"$out" || { echo "helm template $args: no StatefulSet"; exit 1; }
  grep -q 'grpc: {port: 7420}' <<<"$out" || { echo "helm template $args: no gRPC probe"; exit 1; }
done
# Cluster mode: a seed list naming every pod, node ids from ordinals, the raft port.
out=$("$HELM" template herald helm/herald --set replicaCount=3 --namespace ns)
grep -q 'value: "1=herald-0.herald-headless.ns.svc:7420/herald-0.herald-headless.ns.svc:7422,2=herald-1' \
  <<<"$out" || { echo "helm template replicaCount=3: no --peers seed list"; exit 1; }
grep -q 'HERALD_NODE_ID_FROM_ORDINAL' <<<"$out" || { echo "replicaCount=3: no node id"; exit 1; }
grep -q 'containerPort: 7422' <<<"$out" || { echo "replicaCount=3: no raft port"; exit 1; }
if "$HELM" template herald helm/herald | grep -q HERALD_PEERS; then
  echo "helm template (1 replica): must not configure cluster mode"; exit 1
fi
echo "check-deploy: helm chart OK"

promtool check rules deploy/prometheus/alerts.yml
