#!/usr/bin/env bash
# Pod startup on a running kedge cluster: 20 busybox pods from `kubectl apply`
# to all Ready, and the kedge and containerd memory that holds them.
#
#   KUBECONFIG=/var/lib/kedge/admin.kubeconfig bench/pod-startup.sh [pods] [runs]
#
# Reference (../shared/RUNTIME-NOTES.md, measured on this machine kind):
# upstream kubelet 1.37 + containerd, 20 busybox pods apply → all Ready in 7.9–8.7 s.
set -euo pipefail
pods=${1:-20}
runs=${2:-3}
ns=bench-startup
manifest() {
  cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleepers, namespace: $ns}
spec:
  replicas: $pods
  selector: {matchLabels: {app: sleepers}}
  template:
    metadata: {labels: {app: sleepers}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: sleep
        image: localhost/busybox:1.36
        command: ["sleep", "3600"]
YAML
}
kubectl create namespace $ns >/dev/null 2>&1 || true
for run in $(seq 1 "$runs"); do
  start=$(date +%s.%N)
  manifest | kubectl apply -f - >/dev/null
  kubectl -n $ns rollout status deployment/sleepers --timeout=300s >/dev/null
  end=$(date +%s.%N)
  ready=$(kubectl -n $ns get pods --no-headers | grep -c ' 1/1 ')
  printf 'run %d: %d pods apply → all Ready in %.2f s\n' "$run" "$ready" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
  if [ "$run" = "$runs" ]; then
    kedge_pid=$(pgrep -o -f ' up --data-dir' || true)
    [ -n "$kedge_pid" ] && echo "kedge RSS with $pods pods: $(awk '/VmRSS/{print int($2/1024)}' /proc/$kedge_pid/status) MiB"
    ctrd=$(pgrep -o -f 'containerd --config' || true)
    [ -n "$ctrd" ] && echo "containerd RSS: $(awk '/VmRSS/{print int($2/1024)}' /proc/$ctrd/status) MiB"
  fi
  kubectl -n $ns delete deployment sleepers --wait=true >/dev/null
  while [ -n "$(kubectl -n $ns get pods --no-headers 2>/dev/null)" ]; do sleep 0.5; done
done
echo "reference: upstream kubelet 1.37 + containerd here, 20 pods → all Ready in 7.9–8.7 s"
kubectl delete namespace $ns --wait=false >/dev/null
