//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHelm drives Helm 3 (built from helm.sh/helm/v3 by `make tools`)
// through a chart of several kinds: install, upgrade, rollback, uninstall.
func TestHelm(t *testing.T) {
	helmBin := os.Getenv("KEDGE_HELM")
	if helmBin == "" {
		t.Fatal("KEDGE_HELM must name the helm binary (make e2e sets it)")
	}
	c := newCluster(t)
	c.start()
	c.waitNodeReady()
	chart, err := filepath.Abs("testdata/charts/demo")
	if err != nil {
		t.Fatal(err)
	}
	helm := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(helmBin, append([]string{"--kubeconfig", c.kubeconfig, "-n", "default"}, args...)...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(c.dataDir, "helm", "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(c.dataDir, "helm", "config"), "HELM_DATA_HOME="+filepath.Join(c.dataDir, "helm", "data"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	jsonpath := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(c.mustKubectl(args...))
	}
	readyReplicas := func(n string) {
		t.Helper()
		c.waitFor("demo-web with "+n+" ready replicas", 90*time.Second, func() (bool, error) {
			out, err := c.kubectl("get", "deploy", "demo-web", "-o", "jsonpath={.status.readyReplicas}/{.status.updatedReplicas}/{.status.replicas}")
			return strings.TrimSpace(out) == n+"/"+n+"/"+n, err
		})
	}

	out := helm("install", "demo", chart, "--wait", "--timeout", "2m")
	if !strings.Contains(out, "STATUS: deployed") || !strings.Contains(out, "REVISION: 1") {
		t.Fatalf("helm install:\n%s", out)
	}
	readyReplicas("1")
	for _, obj := range []string{"sa/demo-app", "cm/demo-settings", "secret/demo-secret", "role/demo-reader",
		"rolebinding/demo-reader", "deploy/demo-web", "svc/demo-web", "pdb/demo-web"} {
		c.mustKubectl("get", obj)
	}
	if got := jsonpath("get", "cm", "demo-settings", "-o", "jsonpath={.data.message}"); got != "hello" {
		t.Fatalf("configmap message %q", got)
	}
	// Helm keeps its releases in Secrets it finds by label.
	if got := jsonpath("get", "secrets", "-l", "owner=helm,name=demo", "-o", "name"); got != "secret/sh.helm.release.v1.demo.v1" {
		t.Fatalf("release secrets: %q", got)
	}

	out = helm("upgrade", "demo", chart, "--set", "replicas=2,message=bonjour", "--wait", "--timeout", "2m")
	if !strings.Contains(out, "REVISION: 2") {
		t.Fatalf("helm upgrade:\n%s", out)
	}
	readyReplicas("2")
	if got := jsonpath("get", "cm", "demo-settings", "-o", "jsonpath={.data.message}"); got != "bonjour" {
		t.Fatalf("configmap after upgrade %q", got)
	}
	pod := jsonpath("get", "pods", "-l", "app.kubernetes.io/name=web", "-o", "jsonpath={.items[0].metadata.name}")
	if env := c.mustKubectl("get", "pod", pod, "-o", "jsonpath={.spec.containers[0].env[0].valueFrom.configMapKeyRef.name}"); env != "demo-settings" {
		t.Fatalf("pod env: %q", env)
	}

	out = helm("rollback", "demo", "1", "--wait", "--timeout", "2m")
	if !strings.Contains(out, "Rollback was a success") {
		t.Fatalf("helm rollback:\n%s", out)
	}
	readyReplicas("1")
	if got := jsonpath("get", "cm", "demo-settings", "-o", "jsonpath={.data.message}"); got != "hello" {
		t.Fatalf("configmap after rollback %q", got)
	}
	hist := helm("history", "demo")
	for _, want := range []string{"superseded", "Install complete", "Upgrade complete", "deployed", "Rollback to 1"} {
		if !strings.Contains(hist, want) {
			t.Fatalf("helm history lacks %q:\n%s", want, hist)
		}
	}
	if out := helm("list", "-q"); strings.TrimSpace(out) != "demo" {
		t.Fatalf("helm list: %q", out)
	}

	out = helm("uninstall", "demo", "--wait", "--timeout", "2m")
	if !strings.Contains(out, `release "demo" uninstalled`) {
		t.Fatalf("helm uninstall:\n%s", out)
	}
	c.waitFor("the release's objects to go", 60*time.Second, func() (bool, error) {
		out, err := c.kubectl("get", "deploy,svc,cm,secret,sa,role,rolebinding,pdb,rs,pods", "-l", "app.kubernetes.io/instance=demo", "-o", "name")
		return err == nil && strings.TrimSpace(out) == "", err
	})
	for _, obj := range []string{"role/demo-reader", "rolebinding/demo-reader", "pdb/demo-web"} {
		if out, err := c.kubectl("get", obj); err == nil || !strings.Contains(out, "NotFound") {
			t.Fatalf("%s after uninstall: %v %s", obj, err, out)
		}
	}
	if out := helm("list", "-q", "-a"); strings.TrimSpace(out) != "" {
		t.Fatalf("helm list after uninstall: %q", out)
	}
}
