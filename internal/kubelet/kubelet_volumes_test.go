package kubelet

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kedge-dev/kedge/internal/kubelet/cri/critest"
	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	ktesting "k8s.io/client-go/testing"
)

// TestKubeletVolumes runs a pod with every volume type the kubelet sets
// up against a real containerd: it waits (ContainerCreating, FailedMount)
// for a missing ConfigMap, sees ConfigMap and label updates in its files,
// keeps its volumes across a kubelet restart, and loses them (unmounted,
// removed) when deleted.
func TestKubeletVolumes(t *testing.T) {
	env := critest.Start(t)
	client := statusSubresourceClient()
	tokens := 0
	client.PrependReactor("create", "serviceaccounts", func(action ktesting.Action) (bool, runtime.Object, error) {
		ca, ok := action.(ktesting.CreateAction)
		if !ok || ca.GetSubresource() != "token" {
			return false, nil, nil
		}
		tokens++
		tr := ca.GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		tr.Status.Token = "token-for-" + tr.Spec.BoundObjectRef.Name
		tr.Status.ExpirationTimestamp = metav1.NewTime(time.Now().Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second))
		return true, tr, nil
	})
	node := "kv-" + strings.TrimPrefix(filepath.Base(env.DataDir), "kedge-critest-")
	cfg := Config{
		NodeName: node, NodeIP: "192.0.2.2", DataDir: env.DataDir, RunDir: env.RunDir,
		RuntimeEndpoint: env.Containerd.Address(), Client: client,
		PodLogsDir: filepath.Join(env.DataDir, "logs"), NoGuard: true,
	}
	t.Cleanup(func() { removeCgroupTree("/kedge/" + node) })
	stop := startKubelet(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	readyTestNode(t, ctx, client, node, "10.88.10.0/24")

	ns := "default"
	client.CoreV1().ConfigMaps(ns).Create(ctx, &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: ns},
		Data: map[string]string{"ca.crt": "CA-PEM"}}, metav1.CreateOptions{})
	client.CoreV1().Secrets(ns).Create(ctx, &v1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: ns},
		Data: map[string][]byte{"password": []byte("s3cret")}}, metav1.CreateOptions{})

	script := `echo x > /cfg/probe 2>/dev/null && ro=writable || ro=readonly
echo hello > /scratch/$POD/file
while true; do
  echo "cfg=$(cat /cfg/app.conf) key=$(cat /app.conf) labels=$(cat /info/labels) pw=$(cat /creds/password) token=$(cat /var/run/secrets/kubernetes.io/serviceaccount/token) ns=$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace) ca=$(cat /var/run/secrets/kubernetes.io/serviceaccount/ca.crt) sub=$(cat /sub/file) cfgmount=$ro"
  sleep 0.5
done`
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "vols", Namespace: ns, UID: "uid-vols", Labels: map[string]string{"rev": "1"}},
		Spec: v1.PodSpec{
			NodeName: node, RestartPolicy: v1.RestartPolicyAlways, ServiceAccountName: "default",
			Containers: []v1.Container{{
				Name: "c", Image: "localhost/busybox:1.36", Command: []string{"/bin/sh", "-c", script},
				Env: []v1.EnvVar{{Name: "POD", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				VolumeMounts: []v1.VolumeMount{
					{Name: "cfg", MountPath: "/cfg"},
					{Name: "cfg", MountPath: "/app.conf", SubPath: "app.conf"},
					{Name: "info", MountPath: "/info"},
					{Name: "creds", MountPath: "/creds"},
					{Name: "kube-api-access-test1", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
					{Name: "scratch", MountPath: "/scratch"},
					{Name: "scratch", MountPath: "/sub", SubPathExpr: "$(POD)"},
				},
			}},
			Volumes: []v1.Volume{
				{Name: "cfg", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "app"}}}},
				{Name: "info", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
					{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
				{Name: "creds", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "creds"}}},
				{Name: "kube-api-access-test1", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{
					DefaultMode: ptr(int32(0o644)),
					Sources: []v1.VolumeProjection{
						{ServiceAccountToken: &v1.ServiceAccountTokenProjection{ExpirationSeconds: ptr(int64(3607)), Path: "token"}},
						{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "kube-root-ca.crt"},
							Items: []v1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
						{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{{Path: "namespace",
							FieldRef: &v1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
					},
				}}},
				{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{
					Medium: v1.StorageMediumMemory, SizeLimit: ptr(resource.MustParse("16Mi"))}}},
			},
		},
	}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The ConfigMap is missing: the pod waits in ContainerCreating.
	waitFor(t, ctx, "FailedMount event", func() bool {
		return hasEvent(ctx, client, ns, "FailedMount", `MountVolume.SetUp failed for volume "cfg" : configmap "app" not found`)
	})
	p := waitPod(t, ctx, client, "vols", func(p *v1.Pod) bool { return true })
	if w := p.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ContainerCreating" || p.Status.Phase != v1.PodPending {
		t.Errorf("waiting for volumes: phase %s, state %+v", p.Status.Phase, p.Status.ContainerStatuses[0].State)
	}
	if n := len(listSandboxes(t, ctx, env, "uid-vols")); n != 0 {
		t.Errorf("%d sandboxes before the volumes are ready", n)
	}

	// It appears: the pod starts at once (the watch tells the kubelet).
	if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Data: map[string]string{"app.conf": "v1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p = waitPod(t, ctx, client, "vols", func(p *v1.Pod) bool { return podReady(p) })
	logFile := filepath.Join(cfg.PodLogsDir, "default_vols_uid-vols", "c", "0.log")
	want := `cfg=v1 key=v1 labels=rev="1" pw=s3cret token=token-for-vols ns=default ca=CA-PEM sub=hello cfgmount=readonly`
	waitLog(t, ctx, logFile, want)

	podDir := filepath.Join(env.DataDir, "pods", "uid-vols")
	mounts := tmpfsUnder(t, podDir)
	for _, v := range []string{"kubernetes.io~secret/creds", "kubernetes.io~projected/kube-api-access-test1",
		"kubernetes.io~downward-api/info", "kubernetes.io~empty-dir/scratch"} {
		if _, ok := mounts[filepath.Join(podDir, "volumes", v)]; !ok {
			t.Errorf("%s is not a tmpfs mount; mounts: %v", v, mounts)
		}
	}
	if opts := mounts[filepath.Join(podDir, "volumes/kubernetes.io~empty-dir/scratch")]; !strings.Contains(opts, "size=16384k") {
		t.Errorf("memory emptyDir options %q, want size=16384k", opts)
	}

	// Updates reach the files (not the subPath mount, as upstream).
	start := time.Now()
	if _, err := client.CoreV1().ConfigMaps(ns).Update(ctx, &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Data: map[string]string{"app.conf": "v2"}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Labels = map[string]string{"rev": "2"}
	if _, err := client.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLog(t, ctx, logFile, `cfg=v2 key=v1 labels=rev="2"`)
	t.Logf("ConfigMap and label update visible in the container after %v", time.Since(start))

	// A restarted kubelet keeps the pod and its mounts as they are.
	stop()
	stop = startKubelet(t, cfg)
	time.Sleep(3 * time.Second)
	p = waitPod(t, ctx, client, "vols", func(p *v1.Pod) bool { return podReady(p) })
	if rc := p.Status.ContainerStatuses[0].RestartCount; rc != 0 {
		t.Errorf("restart count %d after kubelet restart", rc)
	}
	if after := tmpfsUnder(t, podDir); len(after) != len(mounts) {
		t.Errorf("mounts after kubelet restart: %v, before %v", after, mounts)
	}
	client.CoreV1().ConfigMaps(ns).Update(ctx, &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Data: map[string]string{"app.conf": "v3"}}, metav1.UpdateOptions{})
	waitLog(t, ctx, logFile, `cfg=v3`)

	// Deletion unmounts and removes everything.
	p.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	p.DeletionGracePeriodSeconds = ptr(int64(1))
	if _, err := client.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "pod object deleted", func() bool {
		_, err := client.CoreV1().Pods(ns).Get(ctx, "vols", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if left := tmpfsUnder(t, podDir); len(left) != 0 {
		t.Errorf("mounts left after deletion: %v", left)
	}
	if _, err := os.Stat(podDir); !os.IsNotExist(err) {
		t.Errorf("pod directory left after deletion: %v", err)
	}
	stop()
}

// TestKubeletHostPathTypes: a failed hostPath type check keeps the pod
// waiting with upstream's message; DirectoryOrCreate creates.
func TestKubeletHostPathTypes(t *testing.T) {
	env := critest.Start(t)
	client := statusSubresourceClient()
	node := "kh-" + strings.TrimPrefix(filepath.Base(env.DataDir), "kedge-critest-")
	cfg := Config{NodeName: node, NodeIP: "192.0.2.2", DataDir: env.DataDir, RunDir: env.RunDir,
		RuntimeEndpoint: env.Containerd.Address(), Client: client, PodLogsDir: filepath.Join(env.DataDir, "logs"), NoGuard: true}
	t.Cleanup(func() { removeCgroupTree("/kedge/" + node) })
	startKubelet(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := waitNode(t, ctx, client, node, func(n *v1.Node) bool { return n != nil })
	n.Spec.PodCIDR = "10.88.11.0/24"
	n.Spec.PodCIDRs = []string{n.Spec.PodCIDR}
	client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
	waitNode(t, ctx, client, node, nodeReady)

	hostDir := filepath.Join(env.DataDir, "host")
	os.MkdirAll(hostDir, 0o755)
	notDir := filepath.Join(hostDir, "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	created := filepath.Join(hostDir, "made")
	typ := func(t v1.HostPathType) *v1.HostPathType { return &t }
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hp", Namespace: "default", UID: "uid-hp"},
		Spec: v1.PodSpec{NodeName: node, Containers: []v1.Container{{
			Name: "c", Image: "localhost/busybox:1.36", Command: []string{"/bin/sleep", "3600"},
			VolumeMounts: []v1.VolumeMount{{Name: "d", MountPath: "/d"}, {Name: "made", MountPath: "/made"}},
		}}, Volumes: []v1.Volume{
			{Name: "d", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: notDir, Type: typ(v1.HostPathDirectory)}}},
			{Name: "made", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: created, Type: typ(v1.HostPathDirectoryOrCreate)}}},
		}},
	}
	client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	waitFor(t, ctx, "FailedMount event", func() bool {
		return hasEvent(ctx, client, "default", "FailedMount",
			`MountVolume.SetUp failed for volume "d" : hostPath type check failed: `+notDir+` is not a directory`)
	})
	if info, err := os.Stat(created); err != nil || !info.IsDir() {
		t.Errorf("DirectoryOrCreate: %v", err)
	}
	p := waitPod(t, ctx, client, "hp", func(p *v1.Pod) bool { return true })
	if w := p.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ContainerCreating" {
		t.Errorf("state %+v", p.Status.ContainerStatuses[0].State)
	}
	client.CoreV1().Pods("default").Delete(ctx, "hp", metav1.DeleteOptions{})
	waitFor(t, ctx, "pod directory removed", func() bool {
		_, err := os.Stat(filepath.Join(env.DataDir, "pods", "uid-hp"))
		return os.IsNotExist(err)
	})
}

func hasEvent(ctx context.Context, client *fake.Clientset, ns, reason, message string) bool {
	events, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, e := range events.Items {
		if e.Reason == reason && e.Message == message {
			return true
		}
	}
	return false
}

// waitLog waits until the last line of a CRI log file contains want.
func waitLog(t *testing.T, ctx context.Context, path, want string) {
	t.Helper()
	last := ""
	for {
		data, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		last = lines[len(lines)-1]
		if strings.Contains(last, want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("log never showed %q; last line: %q", want, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tmpfsUnder returns the tmpfs mount points below dir with their options.
func tmpfsUnder(t *testing.T, dir string) map[string]string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		for i, fld := range fields {
			if fld == "-" && i+3 < len(fields) && fields[i+1] == "tmpfs" && strings.HasPrefix(fields[4], dir+"/") {
				out[fields[4]] = fields[i+3]
			}
		}
	}
	return out
}
