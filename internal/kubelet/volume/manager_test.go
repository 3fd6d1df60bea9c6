package volume

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	ktesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// fakeMounter records tmpfs mounts instead of making them.
type fakeMounter struct {
	mu      sync.Mutex
	mounted map[string]int64
}

func (f *fakeMounter) MountTmpfs(dir string, size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mounted[dir] = size
	return nil
}

func (f *fakeMounter) IsMountPoint(dir string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.mounted[dir]
	return ok, nil
}

func (f *fakeMounter) UnmountUnder(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for d := range f.mounted {
		if d == dir || len(d) > len(dir) && d[:len(dir)+1] == dir+"/" {
			delete(f.mounted, d)
		}
	}
	return nil
}

type changes struct {
	mu  sync.Mutex
	got map[types.UID]int
}

func (c *changes) add(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[uid]++
}

func (c *changes) count(uid types.UID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[uid]
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestManagerSetUpAndUpdates(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "serviceaccounts", func(action ktesting.Action) (bool, runtime.Object, error) {
		ca, ok := action.(ktesting.CreateAction)
		if !ok || ca.GetSubresource() != "token" {
			return false, nil, nil
		}
		tr := ca.GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		tr.Status.Token = "token-for-" + tr.Spec.BoundObjectRef.Name
		tr.Status.ExpirationTimestamp = metav1.NewTime(time.Now().Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second))
		return true, tr, nil
	})
	mounter := &fakeMounter{mounted: map[string]int64{}}
	ch := &changes{got: map[types.UID]int{}}
	podsDir := t.TempDir()
	m := New(Config{
		PodsDir: podsDir, Client: client, Mounter: mounter, Changed: ch.add,
		Allocatable: func() v1.ResourceList {
			return v1.ResourceList{v1.ResourceMemory: resource.MustParse("1Gi")}
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)

	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-1", Labels: map[string]string{"v": "1"}},
		Spec: v1.PodSpec{
			ServiceAccountName: "default",
			Containers:         []v1.Container{{Name: "c"}},
			Volumes: []v1.Volume{
				{Name: "cfg", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "app"}}}},
				{Name: "creds", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "creds", DefaultMode: ptr.To[int32](0o400)}}},
				{Name: "info", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
					{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
				{Name: "kube-api-access-abcde", VolumeSource: v1.VolumeSource{Projected: kubeAPIAccess()}},
				{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
				{Name: "cache", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("64Mi"))}}},
				{Name: "claim", VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "x"}}},
			},
		},
	}
	vol := func(plugin, name string) string { return filepath.Join(podsDir, "uid-1", "volumes", plugin, name) }

	// Nothing exists yet: the atomic volumes fail, the others are ready.
	res := m.SetUp(ctx, pod)
	errs := map[string]string{}
	for _, e := range res.Errors {
		errs[e.Volume] = e.Error()
	}
	want := map[string]string{
		"cfg":                   `MountVolume.SetUp failed for volume "cfg" : configmap "app" not found`,
		"creds":                 `MountVolume.SetUp failed for volume "creds" : secret "creds" not found`,
		"kube-api-access-abcde": `MountVolume.SetUp failed for volume "kube-api-access-abcde" : configmap "kube-root-ca.crt" not found`,
	}
	for k, v := range want {
		if errs[k] != v {
			t.Errorf("error of %s: %q, want %q", k, errs[k], v)
		}
	}
	if len(res.Unmounted) != 3 || len(errs) != 3 {
		t.Errorf("unmounted %v, errors %v", res.Unmounted, errs)
	}
	if _, ok := res.Mounts["claim"]; ok {
		t.Errorf("unsupported volume reported set up")
	}
	if got := res.Mounts["scratch"]; got.HostPath != vol(dirEmptyDir, "scratch") || got.ReadOnly {
		t.Errorf("emptyDir mount: %+v", got)
	}
	if size, ok := mounter.mounted[vol(dirEmptyDir, "cache")]; !ok || size != 64<<20 {
		t.Errorf("memory emptyDir: mounted=%v size=%d", ok, size)
	}

	// The objects appear: the pod is told, and the next SetUp succeeds.
	client.CoreV1().ConfigMaps("default").Create(ctx, &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"},
		Data: map[string]string{"app.conf": "v=1"}}, metav1.CreateOptions{})
	eventually(t, "change notification", func() bool { return ch.count("uid-1") > 0 })
	client.CoreV1().ConfigMaps("default").Create(ctx, &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: "default"},
		Data: map[string]string{"ca.crt": "PEM"}}, metav1.CreateOptions{})
	client.CoreV1().Secrets("default").Create(ctx, &v1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "default"},
		Data: map[string][]byte{"password": []byte("s3cret")}}, metav1.CreateOptions{})
	eventually(t, "volumes set up", func() bool {
		res = m.SetUp(ctx, pod)
		return len(res.Unmounted) == 0 && len(res.Errors) == 0
	})
	check := func(path, want string) {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil || string(data) != want {
			t.Errorf("%s = %q (%v), want %q", path, data, err, want)
		}
	}
	check(filepath.Join(vol(dirConfigMap, "cfg"), "app.conf"), "v=1")
	check(filepath.Join(vol(dirSecret, "creds"), "password"), "s3cret")
	check(filepath.Join(vol(dirDownwardAPI, "info"), "labels"), `v="1"`)
	check(filepath.Join(vol(dirProjected, "kube-api-access-abcde"), "token"), "token-for-web")
	check(filepath.Join(vol(dirProjected, "kube-api-access-abcde"), "ca.crt"), "PEM")
	check(filepath.Join(vol(dirProjected, "kube-api-access-abcde"), "namespace"), "default")
	if info, err := os.Stat(filepath.Join(vol(dirSecret, "creds"), "password")); err != nil || info.Mode().Perm() != 0o400 {
		t.Errorf("secret file mode: %v %v", info, err)
	}
	for _, name := range []string{"cfg", "creds", "info", "kube-api-access-abcde"} {
		if !res.Mounts[name].ReadOnly {
			t.Errorf("%s not read-only", name)
		}
	}
	if _, ok := mounter.mounted[vol(dirSecret, "creds")]; !ok {
		t.Errorf("secret volume not on tmpfs")
	}
	if _, ok := mounter.mounted[vol(dirConfigMap, "cfg")]; ok {
		t.Errorf("configMap volume on tmpfs")
	}
	if res.RefreshIn <= 0 || res.RefreshIn > time.Hour {
		t.Errorf("token refresh in %v", res.RefreshIn)
	}

	// Updates reach the files.
	before := ch.count("uid-1")
	if _, err := client.CoreV1().ConfigMaps("default").Update(ctx, &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"},
		Data: map[string]string{"app.conf": "v=2"}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "update notification", func() bool { return ch.count("uid-1") > before })
	pod.Labels["v"] = "2"
	if res = m.SetUp(ctx, pod); len(res.Errors) != 0 {
		t.Fatalf("errors after update: %v", res.Errors)
	}
	check(filepath.Join(vol(dirConfigMap, "cfg"), "app.conf"), "v=2")
	check(filepath.Join(vol(dirDownwardAPI, "info"), "labels"), `v="2"`)

	// A deleted ConfigMap fails the update but the volume stays mounted.
	client.CoreV1().ConfigMaps("default").Delete(ctx, "app", metav1.DeleteOptions{})
	eventually(t, "deletion seen", func() bool {
		res = m.SetUp(ctx, pod)
		return len(res.Errors) == 1
	})
	if len(res.Unmounted) != 0 || res.Mounts["cfg"].HostPath == "" {
		t.Errorf("after deletion: unmounted %v, mounts %v", res.Unmounted, res.Mounts)
	}
	check(filepath.Join(vol(dirConfigMap, "cfg"), "app.conf"), "v=2")

	// Tear-down: unmounted, removed, watches closed.
	if err := m.TearDown("uid-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(podsDir, "uid-1")); !os.IsNotExist(err) {
		t.Errorf("pod directory left: %v", err)
	}
	if len(mounter.mounted) != 0 {
		t.Errorf("mounts left: %v", mounter.mounted)
	}
	m.objects.mu.Lock()
	left := len(m.objects.watches)
	m.objects.mu.Unlock()
	if left != 0 {
		t.Errorf("%d watches left", left)
	}
}

func TestManagerHostPathFailure(t *testing.T) {
	m := New(Config{PodsDir: t.TempDir(), Client: fake.NewClientset(), Mounter: &fakeMounter{mounted: map[string]int64{}}})
	dir := t.TempDir()
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "uid-2"},
		Spec: v1.PodSpec{Volumes: []v1.Volume{{Name: "sock", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{
			Path: dir, Type: ptr.To(v1.HostPathSocket)}}}}}}
	res := m.SetUp(context.Background(), pod)
	if len(res.Errors) != 1 || res.Errors[0].Error() != `MountVolume.SetUp failed for volume "sock" : hostPath type check failed: `+dir+` is not a socket file` {
		t.Errorf("errors: %v", res.Errors)
	}
	if len(res.Unmounted) != 1 {
		t.Errorf("unmounted: %v", res.Unmounted)
	}
}
