//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// parityPending lists the observations of the parity scenario that still
// differ from upstream, each with the reason; every other one must match
// upstream's output byte for byte (after the scenario's normalization).
var parityPending = map[string]string{}

// TestOutputParity runs the parity scenario (testdata/parity, a copy of
// ../shared/parity) against a kedge cluster and compares what kubectl
// printed with what upstream Kubernetes v1.37.2 printed for it.
func TestOutputParity(t *testing.T) {
	c := newCluster(t)
	c.start()
	c.waitNodeReady()
	c.waitFor("the default service account", 60*time.Second, func() (bool, error) {
		_, err := c.kubectl("get", "sa", "default")
		return err == nil, nil
	})
	out := t.TempDir()
	script, _ := filepath.Abs("testdata/parity/scenario.sh")
	cmd := exec.Command("bash", script, out)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scenario: %v\n%s", err, b)
	}
	want, err := filepath.Glob("testdata/parity/upstream/*")
	if err != nil || len(want) == 0 {
		t.Fatalf("no upstream outputs: %v", err)
	}
	sort.Strings(want)
	var same, differ []string
	for _, w := range want {
		name := filepath.Base(w)
		up, _ := os.ReadFile(w)
		got, err := os.ReadFile(filepath.Join(out, name))
		if err == nil && string(got) == string(up) {
			same = append(same, name)
			if why, ok := parityPending[name]; ok {
				t.Errorf("%s now matches upstream; remove it from parityPending (%s)", name, why)
			}
			continue
		}
		differ = append(differ, name)
		d, _ := exec.Command("diff", "-u", w, filepath.Join(out, name)).CombinedOutput()
		if why, ok := parityPending[name]; ok {
			t.Logf("%s differs, pending: %s\n%s", name, why, d)
			continue
		}
		t.Errorf("%s differs from upstream:\n%s", name, d)
	}
	t.Logf("MEASURE parity: %d of %d observations identical to upstream; differing: %s",
		len(same), len(want), strings.Join(differ, " "))
}
