//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// manyKinds is one multi-document manifest of many kinds.
const manyKinds = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop, labels: {tier: conf}}
data: {a: "1", b: "2"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: shop}
stringData: {password: s3cret}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web, tier: front}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: echo, image: localhost/echo:1, ports: [{containerPort: 8080, name: http}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  rules:
  - host: shop.example
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: shop}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec:
  schedule: "0 3 * * *"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: c, image: localhost/busybox:1.36, command: ["true"]}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 4
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]
`

// TestKubectl drives the real kubectl through the commands users run every
// day, against one cluster, checking what they print.
func TestKubectl(t *testing.T) {
	c := newCluster(t)
	c.start()
	c.waitNodeReady()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	has := func(out string, wants ...string) {
		c.t.Helper()
		for _, w := range wants {
			if !strings.Contains(out, w) {
				c.t.Fatalf("output lacks %q:\n%s", w, out)
			}
		}
	}
	k := func(args ...string) string { c.t.Helper(); return c.mustKubectl(args...) }
	// fails runs kubectl expecting an error, and returns what it printed.
	fails := func(args ...string) string {
		c.t.Helper()
		out, err := c.kubectl(args...)
		if err == nil {
			c.t.Fatalf("kubectl %s succeeded:\n%s", strings.Join(args, " "), out)
		}
		return out
	}

	// Each step reports on its own subtest, through c.t as well.
	parent := t
	step := func(name string, f func(t *testing.T)) {
		parent.Run(name, func(t *testing.T) {
			c.t = t
			defer func() { c.t = parent }()
			f(t)
		})
	}

	step("discovery", func(t *testing.T) {
		out := k("api-resources")
		has(out, "NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND",
			"deployments  ", "deploy", "apps/v1", "horizontalpodautoscalers", "hpa", "autoscaling/v2",
			"customresourcedefinitions", "crd,crds", "apiextensions.k8s.io/v1", "leases", "coordination.k8s.io/v1")
		if !regexp.MustCompile(`(?m)^pods\s+po\s+v1\s+true\s+Pod$`).MatchString(out) {
			t.Fatalf("api-resources pods row:\n%s", out)
		}
		has(k("api-resources", "--namespaced=false", "-o", "name"), "nodes\n", "namespaces\n", "clusterroles.rbac.authorization.k8s.io\n")
		has(k("api-resources", "--api-group=batch", "-o", "wide"), "cronjobs", "cj", "create,delete,deletecollection,get,list,patch,update,watch", "all")
		has(k("api-versions"), "v1\n", "apps/v1\n", "autoscaling/v2\n", "batch/v1\n", "policy/v1\n", "apiextensions.k8s.io/v1\n")
		out = k("explain", "deployment.spec.strategy")
		has(out, "GROUP:      apps", "KIND:       Deployment", "FIELD: strategy <DeploymentStrategy>",
			"rollingUpdate\t<RollingUpdateDeployment>", "type\t<string>", `"Recreate"`)
		has(k("explain", "pods", "--recursive"), "containers\t<[]Container> -required-", "livenessProbe\t<Probe>")
	})

	step("create multi-document", func(t *testing.T) {
		out := k("create", "-f", write("many.yaml", manyKinds))
		has(out, "namespace/shop created", "configmap/settings created", "secret/creds created",
			"serviceaccount/robot created", "deployment.apps/web created", "service/web created",
			"ingress.networking.k8s.io/web created", "poddisruptionbudget.policy/web created",
			"role.rbac.authorization.k8s.io/reader created", "cronjob.batch/nightly created",
			"horizontalpodautoscaler.autoscaling/web created")
		k("-n", "shop", "rollout", "status", "deploy/web", "--timeout=120s")
		// Creating again reports each object as existing.
		out = fails("create", "-f", filepath.Join(dir, "many.yaml"))
		has(out, `Error from server (AlreadyExists): error when creating "`+filepath.Join(dir, "many.yaml")+`": namespaces "shop" already exists`,
			`deployments.apps "web" already exists`)
	})

	step("get", func(t *testing.T) {
		out := k("-n", "shop", "get", "deploy", "-o", "wide")
		if !regexp.MustCompile(`(?m)^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR$`).MatchString(out) ||
			!regexp.MustCompile(`(?m)^web\s+2/2\s+2\s+2\s+\S+\s+echo\s+localhost/echo:1\s+app=web$`).MatchString(out) {
			t.Fatalf("get deploy -o wide:\n%s", out)
		}
		out = k("-n", "shop", "get", "pods", "-o", "wide")
		has(out, "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES", "Running")
		var obj map[string]any
		if err := json.Unmarshal([]byte(k("-n", "shop", "get", "cm", "settings", "-o", "json")), &obj); err != nil {
			t.Fatal(err)
		}
		if obj["kind"] != "ConfigMap" || obj["data"].(map[string]any)["b"] != "2" {
			t.Fatalf("get -o json: %v", obj)
		}
		has(k("-n", "shop", "get", "svc", "web", "-o", "yaml"), "kind: Service", "clusterIP: 10.43.", "sessionAffinity: None", "type: ClusterIP")
		if got := k("-n", "shop", "get", "deploy", "web", "-o", "jsonpath={.spec.strategy.type}/{.spec.template.spec.containers[0].ports[0].protocol}"); got != "RollingUpdate/TCP" {
			t.Fatalf("jsonpath: %q", got)
		}
		out = k("-n", "shop", "get", "pods", "-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image,NODE:.spec.nodeName")
		if !regexp.MustCompile(`(?m)^NAME\s+IMAGE\s+NODE$`).MatchString(out) || strings.Count(out, "localhost/echo:1") != 2 {
			t.Fatalf("custom-columns:\n%s", out)
		}
		out = k("get", "cm", "-A", "-l", "tier=conf")
		if !regexp.MustCompile(`(?m)^NAMESPACE\s+NAME\s+DATA\s+AGE\nshop\s+settings\s+2\s+\S+$`).MatchString(out) {
			t.Fatalf("get -A -l:\n%s", out)
		}
		out = k("-n", "shop", "get", "pods", "--show-labels", "-l", "app=web")
		has(out, "LABELS", "app=web,pod-template-hash=", ",tier=front")
		pod := strings.TrimSpace(k("-n", "shop", "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"))
		out = k("-n", "shop", "get", "pods", "--field-selector", "metadata.name="+pod+",status.phase=Running", "-o", "name")
		if strings.TrimSpace(out) != "pod/"+pod {
			t.Fatalf("field selector: %q", out)
		}
		has(fails("get", "pods", "--field-selector", "spec.bogus=x"), `field label not supported: spec.bogus`)
		k("-n", "shop", "create", "configmap", "zeta", "--from-literal=k=v")
		k("-n", "shop", "create", "configmap", "alpha", "--from-literal=k=v", "--from-literal=l=w", "--from-literal=m=x")
		out = k("-n", "shop", "get", "cm", "--sort-by=.metadata.name", "-o", "name")
		if !strings.HasPrefix(out, "configmap/alpha\n") || !strings.HasSuffix(out, "configmap/zeta\n") {
			t.Fatalf("sort-by name:\n%s", out)
		}
		out = k("-n", "shop", "get", "cm", "--sort-by=.data.m", "-o", "custom-columns=N:.metadata.name", "--no-headers")
		if !strings.HasSuffix(strings.TrimSpace(out), "alpha") {
			t.Fatalf("sort-by a missing field sorts it last:\n%s", out)
		}
		// Chunked lists give the same objects as a single request.
		whole := k("get", "cm", "-A", "-o", "name")
		if chunked := k("get", "cm", "-A", "-o", "name", "--chunk-size=1"); chunked != whole || strings.Count(whole, "\n") < 3 {
			t.Fatalf("chunk-size list differs:\n%s\nvs\n%s", chunked, whole)
		}
		has(k("get", "all", "-n", "shop"), "pod/web-", "service/web", "deployment.apps/web", "replicaset.apps/web-",
			"cronjob.batch/nightly", "horizontalpodautoscaler.autoscaling/web")
		has(fails("-n", "shop", "get", "cm", "nope"), `Error from server (NotFound): configmaps "nope" not found`)
	})

	step("watch", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", c.kubeconfig, "-n", "shop", "get", "cm", "-w",
			"--output-watch-events", "-l", "watched=yes", "--no-headers")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				f := strings.Fields(sc.Text()) // EVENT NAME DATA AGE
				if len(f) > 3 {
					f = f[:3]
				}
				lines <- strings.Join(f, " ")
			}
			close(lines)
		}()
		next := func(want string) {
			t.Helper()
			select {
			case l := <-lines:
				if l != want {
					t.Fatalf("watch printed %q, want %q", l, want)
				}
			case <-ctx.Done():
				t.Fatalf("watch printed nothing; want %q", want)
			}
		}
		time.Sleep(time.Second) // let the watch start; it also lists (nothing matches yet)
		k("-n", "shop", "create", "cm", "w1", "--from-literal=v=1")
		k("-n", "shop", "label", "cm", "w1", "watched=yes")
		next("ADDED w1 1")
		k("-n", "shop", "patch", "cm", "w1", "-p", `{"data":{"w":"2"}}`)
		next("MODIFIED w1 2")
		k("-n", "shop", "delete", "cm", "w1")
		next("DELETED w1 2")
		cancel()
		cmd.Wait()
	})

	step("describe", func(t *testing.T) {
		out := k("-n", "shop", "describe", "deploy", "web")
		has(out, "Name:                   web", "Namespace:              shop", "Selector:               app=web",
			"Replicas:               2 desired | 2 updated | 2 total | 2 available | 0 unavailable",
			"StrategyType:           RollingUpdate", "RollingUpdateStrategy:  25% max unavailable, 25% max surge",
			"Pod Template:", "Conditions:", "Available      True    MinimumReplicasAvailable",
			"Progressing    True    NewReplicaSetAvailable", "NewReplicaSet:", "Events:", "ScalingReplicaSet")
		out = k("-n", "shop", "describe", "svc", "web")
		has(out, "Type:                     ClusterIP", "Port:                     http  80/TCP", "TargetPort:               http/TCP", "Endpoints:")
		out = k("describe", "node")
		has(out, "Roles:", "Conditions:", "Ready", "KubeletReady", "Capacity:", "Allocatable:", "System Info:", "Non-terminated Pods:", "Allocated resources:")
		has(k("-n", "shop", "describe", "cm", "settings"), "Name:         settings", "Data\n====", "a:\n----\n1")
	})

	step("label annotate patch replace", func(t *testing.T) {
		has(k("-n", "shop", "label", "cm", "settings", "color=blue"), "configmap/settings labeled")
		has(fails("-n", "shop", "label", "cm", "settings", "color=red"), "'color' already has a value (blue), and --overwrite is false")
		has(k("-n", "shop", "label", "cm", "settings", "color=red", "--overwrite"), "configmap/settings labeled")
		has(k("-n", "shop", "label", "cm", "settings", "color-"), "configmap/settings unlabeled")
		has(k("-n", "shop", "annotate", "cm", "settings", "note=hello world"), "configmap/settings annotated")
		if got := k("-n", "shop", "get", "cm", "settings", "-o", `jsonpath={.metadata.annotations.note}|{.metadata.labels}`); got != `hello world|{"tier":"conf"}` {
			t.Fatalf("after label/annotate: %q", got)
		}
		has(k("-n", "shop", "patch", "cm", "settings", "--type=json", "-p", `[{"op":"replace","path":"/data/a","value":"10"},{"op":"remove","path":"/data/b"}]`), "configmap/settings patched")
		has(k("-n", "shop", "patch", "cm", "settings", "--type=merge", "-p", `{"data":{"c":"3"}}`), "configmap/settings patched")
		has(k("-n", "shop", "patch", "deploy", "web", "--type=strategic", "-p",
			`{"spec":{"template":{"spec":{"containers":[{"name":"echo","env":[{"name":"MODE","value":"x"}]}]}}}}`), "deployment.apps/web patched")
		if got := k("-n", "shop", "get", "cm", "settings", "-o", "jsonpath={.data}"); got != `{"a":"10","c":"3"}` {
			t.Fatalf("after patches: %q", got)
		}
		if got := k("-n", "shop", "get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[0].name}"); got != "localhost/echo:1 MODE" {
			t.Fatalf("strategic merge kept the container: %q", got)
		}
		has(k("-n", "shop", "patch", "cm", "settings", "--type=merge", "-p", `{"data":{"c":"3"}}`), "configmap/settings patched (no change)")
		has(fails("-n", "shop", "patch", "cm", "settings", "--type=json", "-p", `[{"op":"remove","path":"/data/nope"}]`), "The request is invalid")
		k("-n", "shop", "rollout", "status", "deploy/web", "--timeout=120s")

		y := k("-n", "shop", "get", "cm", "settings", "-o", "yaml")
		has(k("-n", "shop", "replace", "-f", write("replace.yaml", strings.Replace(y, `c: "3"`, `c: "30"`, 1))), "configmap/settings replaced")
		// The same file again carries a stale resourceVersion.
		has(fails("-n", "shop", "replace", "-f", filepath.Join(dir, "replace.yaml")),
			`Operation cannot be fulfilled on configmaps "settings": the object has been modified; please apply your changes to the latest version and try again`)
		has(k("-n", "shop", "replace", "--force", "-f", filepath.Join(dir, "replace.yaml")), "configmap/settings replaced")
	})

	step("apply", func(t *testing.T) {
		v1 := `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop, labels: {app: api}}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}, annotations: {team: blue}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: echo, image: localhost/echo:1}]
`
		has(k("apply", "-f", write("api.yaml", v1)), "deployment.apps/api created")
		has(k("apply", "-f", filepath.Join(dir, "api.yaml")), "deployment.apps/api unchanged")
		k("-n", "shop", "rollout", "status", "deploy/api", "--timeout=120s")
		// A change made by someone else survives an apply that does not mention it.
		k("-n", "shop", "label", "deploy", "api", "owner=ops")
		v2 := strings.Replace(v1, "replicas: 1", "replicas: 2", 1)
		has(k("apply", "-f", write("api.yaml", v2)), "deployment.apps/api configured")
		if got := k("-n", "shop", "get", "deploy", "api", "-o", "jsonpath={.spec.replicas} {.metadata.labels.owner} {.spec.template.metadata.annotations.team}"); got != "2 ops blue" {
			t.Fatalf("after second apply: %q", got)
		}
		// A field removed from the manifest is removed from the object.
		v3 := strings.Replace(v2, ", annotations: {team: blue}", "", 1)
		has(k("apply", "-f", write("api.yaml", v3)), "deployment.apps/api configured")
		if got := k("-n", "shop", "get", "deploy", "api", "-o", "jsonpath={.spec.template.metadata.annotations}"); got != "" {
			t.Fatalf("removed annotation still there: %q", got)
		}
		if got := k("-n", "shop", "get", "deploy", "api", "-o", "jsonpath={.metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration}"); !strings.Contains(got, `"replicas":2`) {
			t.Fatalf("last-applied annotation: %q", got)
		}
		k("-n", "shop", "rollout", "status", "deploy/api", "--timeout=120s")

		// diff shows the change an apply would make and exits 1.
		out, err := c.kubectl("diff", "-f", write("api.yaml", strings.Replace(v3, "replicas: 2", "replicas: 3", 1)))
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("kubectl diff: %v\n%s", err, out)
		}
		has(out, "-  replicas: 2", "+  replicas: 3")
		if got := k("-n", "shop", "get", "deploy", "api", "-o", "jsonpath={.spec.replicas}"); got != "2" {
			t.Fatalf("diff changed the object: %q", got)
		}
		if out, err := c.kubectl("diff", "-f", write("same.yaml", v3)); err != nil || out != "" {
			t.Fatalf("diff without change: %v %q", err, out)
		}
	})

	step("apply server-side", func(t *testing.T) {
		cm := `apiVersion: v1
kind: ConfigMap
metadata: {name: ssa, namespace: shop}
data: {owned: "by-ssa", shared: "1"}
`
		has(k("apply", "--server-side", "-f", write("ssa.yaml", cm)), "configmap/ssa serverside-applied")
		has(k("apply", "--server-side", "-f", write("ssa.yaml", strings.Replace(cm, `shared: "1"`, `shared: "2"`, 1))), "configmap/ssa serverside-applied")
		// Another manager takes the field.
		k("apply", "--server-side", "--field-manager=other", "-f", write("other.yaml", `apiVersion: v1
kind: ConfigMap
metadata: {name: ssa, namespace: shop}
data: {shared: "other"}
`), "--force-conflicts")
		out := fails("apply", "--server-side", "-f", write("ssa.yaml", strings.Replace(cm, `shared: "1"`, `shared: "3"`, 1)))
		has(out, "Apply failed with 1 conflict: conflict with \"other\": .data.shared", "--force-conflicts")
		has(k("apply", "--server-side", "--force-conflicts", "-f", filepath.Join(dir, "ssa.yaml")), "configmap/ssa serverside-applied")
		if got := k("-n", "shop", "get", "cm", "ssa", "-o", "jsonpath={.data.shared}"); got != "3" {
			t.Fatalf("after force: %q", got)
		}
		out = k("-n", "shop", "get", "cm", "ssa", "-o", "yaml", "--show-managed-fields")
		has(out, "managedFields:", "manager: kubectl", "operation: Apply", "f:owned: {}", "fieldsType: FieldsV1")
		// Dry run on the server changes nothing.
		has(k("apply", "--server-side", "--dry-run=server", "-f", write("ssa.yaml", strings.Replace(cm, `shared: "1"`, `shared: "4"`, 1))), "configmap/ssa serverside-applied (server dry run)")
		if got := k("-n", "shop", "get", "cm", "ssa", "-o", "jsonpath={.data.shared}"); got != "3" {
			t.Fatalf("dry run changed the object: %q", got)
		}
	})

	step("edit", func(t *testing.T) {
		cmd := exec.Command("kubectl", "--kubeconfig", c.kubeconfig, "-n", "shop", "edit", "cm", "settings")
		// kubectl runs the editor through a shell: anchor the change to its line.
		cmd.Env = append(os.Environ(), `KUBE_EDITOR=sed -i -e 's/^  a: "10"$/  a: "11"/'`)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl edit: %v\n%s", err, out)
		}
		has(string(out), "configmap/settings edited")
		if got := k("-n", "shop", "get", "cm", "settings", "-o", "jsonpath={.data.a}"); got != "11" {
			t.Fatalf("after edit: %q", got)
		}
		// An edit that breaks validation is refused with the server's message.
		cmd = exec.Command("kubectl", "--kubeconfig", c.kubeconfig, "-n", "shop", "edit", "deploy", "web")
		cmd.Env = append(os.Environ(), `KUBE_EDITOR=sed -i -e 's/^  replicas: 2$/  replicas: -3/'`)
		out, _ = cmd.CombinedOutput()
		has(string(out), `error: deployments.apps "web" is invalid`, "error: Edit cancelled, no valid changes were saved.")
		// kubectl reopened the editor with the server's reasons at the top, and kept that file.
		m := regexp.MustCompile(`stored to "([^"]+)"`).FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("kubectl edit kept no copy:\n%s", out)
		}
		kept, err := os.ReadFile(m[1])
		os.Remove(m[1])
		if err != nil {
			t.Fatal(err)
		}
		has(string(kept), `# deployments.apps "web" was not valid:`, "# * spec.replicas: Invalid value: -3: must be greater than or equal to 0")
	})

	step("dry-run server", func(t *testing.T) {
		out := k("-n", "shop", "create", "deployment", "dry", "--image=localhost/echo:1", "--dry-run=server", "-o", "yaml")
		has(out, "name: dry", "uid: ", "progressDeadlineSeconds: 600", "revisionHistoryLimit: 10", "maxSurge: 25%", "terminationMessagePolicy: File")
		fails("-n", "shop", "get", "deploy", "dry")
		has(k("-n", "shop", "delete", "cm", "settings", "--dry-run=server"), `configmap "settings" deleted (server dry run)`)
		k("-n", "shop", "get", "cm", "settings")
		has(k("-n", "shop", "scale", "deploy", "web", "--replicas=5", "--dry-run=server"), "deployment.apps/web scaled (server dry run)")
		if got := k("-n", "shop", "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"); got != "2" {
			t.Fatalf("dry-run scale changed replicas: %q", got)
		}
	})

	step("invalid manifests", func(t *testing.T) {
		out := fails("-n", "shop", "create", "-f", write("bad1.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec: {replicas: -1, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x}]}}}
`))
		has(out, `The Deployment "bad" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`)
		out = fails("-n", "shop", "create", "-f", write("bad2.yaml", `apiVersion: v1
kind: ConfigMap
metadata: {name: bad}
dta: {a: "1"}
`))
		has(out, `Error from server (BadRequest): error when creating "`+filepath.Join(dir, "bad2.yaml")+`": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "dta"`)
		out = fails("-n", "shop", "create", "-f", write("bad3.yaml", `apiVersion: v1
kind: Pod
metadata: {name: Bad_Name}
spec: {containers: [{name: c, image: x}]}
`))
		has(out, `The Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of`)
		out = fails("-n", "shop", "create", "-f", write("bad4.yaml", `apiVersion: v1
kind: Widget
metadata: {name: w}
`))
		has(out, `no matches for kind "Widget" in version "v1"`)
		out = fails("-n", "shop", "create", "-f", write("bad5.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n"))
		has(out, "error converting YAML to JSON")
		out = fails("-n", "shop", "patch", "deploy", "web", "--type=merge", "-p", `{"spec":{"selector":{"matchLabels":{"app":"other"}}}}`)
		has(out, "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"other\"}}: field is immutable")
	})

	step("custom resources", func(t *testing.T) {
		crd := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd], categories: [all]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color, priority: 1}
    - {name: Phase, type: string, jsonPath: .status.phase}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the widget should be.
            required: [size]
            properties:
              size: {type: integer, minimum: 1, description: How big the widget is.}
              color: {type: string, enum: [red, blue], default: blue}
              replicas: {type: integer}
          status:
            type: object
            properties:
              phase: {type: string}
              replicas: {type: integer}
`
		has(k("apply", "-f", write("crd.yaml", crd)), "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created")
		k("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s")
		has(k("get", "crd", "widgets.example.com"), "NAME", "CREATED AT", "widgets.example.com")
		has(k("api-resources", "--api-group=example.com"), "widgets", "wd", "example.com/v1", "true", "Widget")
		has(k("-n", "shop", "create", "-f", write("w.yaml", `apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
`)), "widget.example.com/w1 created")
		out := k("-n", "shop", "get", "widgets") // no phase yet: a blank cell, as kubectl prints nil
		if !regexp.MustCompile(`(?m)^NAME\s+SIZE\s+PHASE\s+AGE\nw1\s+3\s+\S+$`).MatchString(out) {
			t.Fatalf("get widgets:\n%s", out)
		}
		out = k("-n", "shop", "get", "wd", "-o", "wide")
		if !regexp.MustCompile(`(?m)^NAME\s+SIZE\s+COLOR\s+PHASE\s+AGE\nw1\s+3\s+blue\s+\S+$`).MatchString(out) {
			t.Fatalf("get widgets -o wide (the default color):\n%s", out)
		}
		// Validation errors name the field as upstream does.
		out = fails("-n", "shop", "create", "-f", write("bad-w.yaml", `apiVersion: example.com/v1
kind: Widget
metadata: {name: bad}
spec: {size: 0, color: green}
`))
		has(out, `The Widget "bad" is invalid: `, `spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1`,
			`spec.color: Unsupported value: "green": supported values: "red", "blue"`)
		has(fails("-n", "shop", "create", "-f", write("bad-w2.yaml", `apiVersion: example.com/v1
kind: Widget
metadata: {name: bad}
spec: {colour: red}
`)), `unknown field "spec.colour"`)
		// The status subresource: status writes go through it only.
		has(k("-n", "shop", "patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", `{"status":{"phase":"Ready"}}`), "widget.example.com/w1 patched")
		k("-n", "shop", "patch", "widget", "w1", "--type=merge", "-p", `{"spec":{"size":4},"status":{"phase":"Ignored"}}`)
		if got := k("-n", "shop", "get", "widget", "w1", "-o", "jsonpath={.spec.size} {.status.phase} {.metadata.generation}"); got != "4 Ready 2" {
			t.Fatalf("after spec and status patches: %q", got)
		}
		has(k("-n", "shop", "scale", "widget", "w1", "--replicas=3"), "widget.example.com/w1 scaled")
		if got := k("-n", "shop", "get", "widget", "w1", "-o", "jsonpath={.spec.replicas}"); got != "3" {
			t.Fatalf("after scale: %q", got)
		}
		out = k("explain", "widgets.spec")
		has(out, "GROUP:      example.com", "KIND:       Widget", "VERSION:    v1", "What the widget should be.",
			"size\t<integer> -required-", "How big the widget is.", "color\t<string>")
		has(k("get", "all", "-n", "shop"), "widget.example.com/w1")
		has(k("delete", "crd", "widgets.example.com"), `customresourcedefinition.apiextensions.k8s.io "widgets.example.com" deleted`)
		// kubectl's cached discovery may still map widgets; the server no longer serves them.
		has(fails("-n", "shop", "get", "widgets"), "the server could not find the requested resource")
		has(fails("get", "--raw", "/apis/example.com/v1/namespaces/shop/widgets"), "Error from server (NotFound)")
		if out := k("api-resources", "--api-group=example.com", "-o", "name"); out != "" {
			t.Fatalf("api-resources after the CRD is gone: %q", out)
		}
	})

	step("kubectl versions", func(t *testing.T) {
		// Every kubectl release users may have (1.27 to 1.33 sit beside the real file).
		real, err := filepath.EvalSymlinks(mustLookPath(t, "kubectl"))
		if err != nil {
			t.Fatal(err)
		}
		bins, _ := filepath.Glob(filepath.Join(filepath.Dir(real), "kubectl.1.*"))
		if len(bins) == 0 {
			t.Fatalf("no kubectl.1.NN beside %s", real)
		}
		for _, bin := range bins {
			v := strings.TrimPrefix(filepath.Base(bin), "kubectl.")
			run := func(args ...string) string {
				t.Helper()
				out, err := exec.Command(bin, append([]string{"--kubeconfig", c.kubeconfig}, args...)...).CombinedOutput()
				if err != nil {
					t.Fatalf("kubectl %s %s: %v\n%s", v, strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			has(run("version"), "Server Version", "v1.37.2+kedge.1")
			has(run("api-resources"), "deployments", "customresourcedefinitions")
			name := "v" + strings.ReplaceAll(v, ".", "-")
			cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: shop}\ndata: {k: v}\n"
			has(run("apply", "-f", write(name+".yaml", cm)), "configmap/"+name+" created")
			has(run("apply", "-f", write(name+".yaml", strings.Replace(cm, "k: v", "k: w", 1))), "configmap/"+name+" configured")
			has(run("apply", "--server-side", "--force-conflicts", "-f", write(name+".yaml", strings.Replace(cm, "k: v", "k: x", 1))), "configmap/"+name+" serverside-applied")
			has(run("-n", "shop", "get", "cm", name, "-o", "wide"), name)
			has(run("-n", "shop", "get", "deploy", "web"), "2/2")
			has(run("explain", "deployment.spec.replicas"), "replicas")
			has(run("-n", "shop", "delete", "cm", name), "deleted")
		}
	})

	step("delete cascade", func(t *testing.T) {
		mk := func(name string) {
			k("-n", "shop", "create", "deployment", name, "--image=localhost/echo:1")
			k("-n", "shop", "rollout", "status", "deploy/"+name, "--timeout=120s")
		}
		count := func(kind, sel string) int {
			out := k("-n", "shop", "get", kind, "-l", sel, "-o", "name")
			return strings.Count(out, "\n")
		}
		mk("bg")
		mk("fg")
		mk("orph")

		has(k("-n", "shop", "delete", "deploy", "fg", "--cascade=foreground"), `deployment.apps "fg" deleted`)
		// kubectl waited for the deployment, which foreground deletion keeps until its dependents are gone.
		if n := count("rs", "app=fg"); n != 0 {
			t.Fatalf("foreground delete left %d replicasets", n)
		}

		has(k("-n", "shop", "delete", "deploy", "orph", "--cascade=orphan"), `deployment.apps "orph" deleted`)
		time.Sleep(2 * time.Second) // the garbage collector must leave them alone
		if n := count("rs", "app=orph"); n != 1 {
			t.Fatalf("orphan delete: %d replicasets", n)
		}
		if refs := k("-n", "shop", "get", "rs", "-l", "app=orph", "-o", "jsonpath={.items[0].metadata.ownerReferences}"); refs != "" {
			t.Fatalf("orphaned replicaset keeps owner references: %s", refs)
		}
		if n := count("pods", "app=orph"); n != 1 {
			t.Fatalf("orphan delete: %d pods", n)
		}

		has(k("-n", "shop", "delete", "deploy", "bg", "--cascade=background"), `deployment.apps "bg" deleted`)
		c.waitFor("background deletion of bg's replicasets and pods", 60*time.Second, func() (bool, error) {
			return count("rs", "app=bg") == 0 && count("pods", "app=bg") == 0, nil
		})
		k("-n", "shop", "delete", "rs", "-l", "app=orph")
		has(fails("-n", "shop", "delete", "deploy", "nope"), `Error from server (NotFound): deployments.apps "nope" not found`)
	})

	step("delete namespace", func(t *testing.T) {
		has(k("delete", "ns", "shop", "--timeout=120s"), `namespace "shop" deleted`)
		has(fails("get", "ns", "shop"), `namespaces "shop" not found`)
	})
}

func mustLookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
