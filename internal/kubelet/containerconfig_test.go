package kubelet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestSandboxConfig(t *testing.T) {
	pod := testPod(v1.RestartPolicyAlways, []string{"web"})
	pod.Labels = map[string]string{"app": "web"}
	pod.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 53, Protocol: v1.ProtocolUDP}}
	cfg := sandboxConfig(pod, 2, sandboxParams{LogRoot: "/var/log/pods", CgroupParent: "/kedge/n1/kubepods/besteffort/poduid-1",
		ClusterDNS: []string{"10.43.0.10"}, ClusterDomain: "cluster.local"})
	if m := cfg.Metadata; m.Name != "p" || m.Namespace != "ns" || m.Uid != "uid-1" || m.Attempt != 2 {
		t.Errorf("metadata %+v", m)
	}
	if cfg.LogDirectory != "/var/log/pods/ns_p_uid-1" || cfg.Hostname != "p" {
		t.Errorf("log dir %s hostname %s", cfg.LogDirectory, cfg.Hostname)
	}
	for k, want := range map[string]string{"app": "web", labelPodName: "p", labelPodNamespace: "ns", labelPodUID: "uid-1"} {
		if cfg.Labels[k] != want {
			t.Errorf("label %s = %q", k, cfg.Labels[k])
		}
	}
	if len(cfg.PortMappings) != 1 || cfg.PortMappings[0].HostPort != 8080 || cfg.PortMappings[0].ContainerPort != 80 {
		t.Errorf("port mappings %v", cfg.PortMappings)
	}
	if cfg.Linux.CgroupParent != "/kedge/n1/kubepods/besteffort/poduid-1" {
		t.Errorf("cgroup parent %s", cfg.Linux.CgroupParent)
	}
	d := cfg.DnsConfig
	if d == nil || d.Servers[0] != "10.43.0.10" || strings.Join(d.Searches, " ") != "ns.svc.cluster.local svc.cluster.local cluster.local" || d.Options[0] != "ndots:5" {
		t.Errorf("dns %+v", d)
	}
	if ns := cfg.Linux.SecurityContext.NamespaceOptions; ns.Network != runtimeapi.NamespaceMode_POD {
		t.Errorf("namespaces %+v", ns)
	}

	pod.Spec.HostNetwork = true
	cfg = sandboxConfig(pod, 0, sandboxParams{ClusterDNS: []string{"10.43.0.10"}})
	if cfg.DnsConfig != nil || cfg.Linux.SecurityContext.NamespaceOptions.Network != runtimeapi.NamespaceMode_NODE || cfg.Hostname != "" {
		t.Errorf("host network sandbox: dns %+v ns %+v", cfg.DnsConfig, cfg.Linux.SecurityContext.NamespaceOptions)
	}
	pod.Spec.HostNetwork = false
	if cfg = sandboxConfig(pod, 0, sandboxParams{}); cfg.DnsConfig != nil {
		t.Errorf("ClusterFirst without cluster DNS must fall back to the host's resolv.conf: %+v", cfg.DnsConfig)
	}
}

func TestContainerResources(t *testing.T) {
	pod := testPod(v1.RestartPolicyAlways, []string{"c"})
	c := &pod.Spec.Containers[0]
	r := containerResources(pod, c, 8<<30, 0)
	if r.CpuShares != 2 || r.CpuQuota != 0 || r.MemoryLimitInBytes != 0 || r.OomScoreAdj != 1000 {
		t.Errorf("best effort: %+v", r)
	}
	c.Resources = v1.ResourceRequirements{
		Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m"), v1.ResourceMemory: resource.MustParse("1Gi")},
		Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("500m"), v1.ResourceMemory: resource.MustParse("2Gi")},
	}
	r = containerResources(pod, c, 8<<30, 0)
	if r.CpuShares != 256 || r.CpuPeriod != 100000 || r.CpuQuota != 50000 || r.MemoryLimitInBytes != 2<<30 || r.OomScoreAdj != 875 {
		t.Errorf("burstable: %+v", r)
	}
	c.Resources.Requests = c.Resources.Limits
	if r = containerResources(pod, c, 8<<30, 0); r.OomScoreAdj != 0 {
		t.Errorf("guaranteed oom_score_adj %d, want clamped to 0 (what this process may set)", r.OomScoreAdj)
	}
	if r = containerResources(pod, c, 8<<30, -1000); r.OomScoreAdj != -997 {
		t.Errorf("guaranteed oom_score_adj %d, want -997", r.OomScoreAdj)
	}
}

func TestContainerSecurity(t *testing.T) {
	pod := testPod(v1.RestartPolicyAlways, []string{"c"})
	c := &pod.Spec.Containers[0]
	sc := containerSecurity(pod, c)
	if sc.Privileged || len(sc.MaskedPaths) == 0 || len(sc.ReadonlyPaths) == 0 || sc.Seccomp.ProfileType != runtimeapi.SecurityProfile_Unconfined {
		t.Errorf("default security %+v", sc)
	}
	c.SecurityContext = &v1.SecurityContext{
		Privileged: ptr(true), RunAsUser: ptr(int64(1000)), AllowPrivilegeEscalation: ptr(false),
		Capabilities:   &v1.Capabilities{Add: []v1.Capability{"NET_ADMIN"}},
		SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault},
	}
	sc = containerSecurity(pod, c)
	if !sc.Privileged || sc.RunAsUser.GetValue() != 1000 || !sc.NoNewPrivs || sc.Capabilities.AddCapabilities[0] != "NET_ADMIN" ||
		sc.Seccomp.ProfileType != runtimeapi.SecurityProfile_RuntimeDefault || len(sc.MaskedPaths) != 0 {
		t.Errorf("security %+v", sc)
	}
	if !sandboxSecurity(pod).Privileged {
		t.Errorf("sandbox of a privileged container must be privileged")
	}
}

func TestHostsFileAndHostname(t *testing.T) {
	pod := testPod(v1.RestartPolicyAlways, []string{"c"})
	pod.Spec.HostAliases = []v1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo", "bar"}}}
	got := string(hostsFile(pod, []string{"10.42.0.7"}, "cluster.local"))
	for _, want := range []string{"# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n", "10.42.0.7\tp\n", "10.1.2.3\tfoo\tbar\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
	pod.Name = strings.Repeat("a", 70)
	if h := podHostname(pod); len(h) != 63 {
		t.Errorf("hostname %q not cut to 63", h)
	}
}

func TestPullPolicy(t *testing.T) {
	for image, want := range map[string]v1.PullPolicy{
		"busybox":                 v1.PullAlways,
		"busybox:latest":          v1.PullAlways,
		"localhost:5000/echo":     v1.PullAlways,
		"localhost:5000/echo:1":   v1.PullIfNotPresent,
		"localhost/echo:1":        v1.PullIfNotPresent,
		"busybox@sha256:abcd1234": v1.PullIfNotPresent,
	} {
		if got := pullPolicy(&v1.Container{Image: image}); got != want {
			t.Errorf("pullPolicy(%s) = %s, want %s", image, got, want)
		}
	}
	if got := pullPolicy(&v1.Container{Image: "x", ImagePullPolicy: v1.PullNever}); got != v1.PullNever {
		t.Errorf("explicit policy overridden: %s", got)
	}
}

func TestCgroupLayout(t *testing.T) {
	m := &cgroupManager{root: "/kedge/n1"}
	pod := testPod(v1.RestartPolicyAlways, []string{"c"})
	if got := m.podCgroup(pod); got != "/kedge/n1/kubepods/besteffort/poduid-1" {
		t.Errorf("best effort cgroup %s", got)
	}
	pod.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m")}
	if got := m.podCgroup(pod); got != "/kedge/n1/kubepods/burstable/poduid-1" {
		t.Errorf("burstable cgroup %s", got)
	}
	pod.Spec.Containers[0].Resources.Limits = v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m"), v1.ResourceMemory: resource.MustParse("1Gi")}
	if got := m.podCgroup(pod); got != "/kedge/n1/kubepods/poduid-1" {
		t.Errorf("guaranteed cgroup %s", got)
	}
	shares, quota, memory := podLimits(pod)
	if shares != 102 || quota != 10000 || memory != 1<<30 {
		t.Errorf("pod limits %d %d %d", shares, quota, memory)
	}
}

func TestCgroupMounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mountinfo")
	os.WriteFile(path, []byte(`22 1 0:21 / /sys/fs/cgroup rw - tmpfs tmpfs rw
23 22 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
24 22 0:23 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
25 22 0:24 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
26 1 8:1 / / rw - ext4 /dev/vda rw
`), 0o644)
	got, err := cgroupMounts(path)
	if err != nil || strings.Join(got, " ") != "/sys/fs/cgroup/cpu,cpuacct /sys/fs/cgroup/memory /sys/fs/cgroup/unified" {
		t.Errorf("cgroupMounts = %v, %v", got, err)
	}
}

func TestLogHelpers(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"0.log", "1.log", "3.log", "junk"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	if n := restartCountFromLogs(dir); n != 4 {
		t.Errorf("restartCountFromLogs = %d, want 4", n)
	}
	log := filepath.Join(dir, "c.log")
	os.WriteFile(log, []byte("2026-01-01T00:00:00.000000000Z stdout F one\n2026-01-01T00:00:01.000000000Z stderr F two\n"), 0o644)
	if got := logTail(log, 80, 2048); got != "one\ntwo" {
		t.Errorf("logTail = %q", got)
	}
}
