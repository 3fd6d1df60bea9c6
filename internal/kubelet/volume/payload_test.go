package volume

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// describe renders a payload as sorted "path mode data" lines.
func describe(p Payload) string {
	var lines []string
	for k, f := range p {
		lines = append(lines, k+" "+f.Mode.Perm().String()+" "+string(f.Data))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestConfigMapPayload(t *testing.T) {
	cm := &v1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
		Data:       map[string]string{"a": "1", "b": "2"},
		BinaryData: map[string][]byte{"bin": {0xff}},
	}
	for _, tc := range []struct {
		name    string
		src     v1.ConfigMapVolumeSource
		cm      *v1.ConfigMap
		want    string
		wantErr string
	}{
		{name: "all keys with the default mode", src: v1.ConfigMapVolumeSource{}, cm: cm,
			want: "a -rw-r--r-- 1\nb -rw-r--r-- 2\nbin -rw-r--r-- \xff"},
		{name: "defaultMode", src: v1.ConfigMapVolumeSource{DefaultMode: ptr.To[int32](0o400)}, cm: cm,
			want: "a -r-------- 1\nb -r-------- 2\nbin -r-------- \xff"},
		{name: "items with path and mode", cm: cm, src: v1.ConfigMapVolumeSource{Items: []v1.KeyToPath{
			{Key: "a", Path: "dir/a.txt", Mode: ptr.To[int32](0o600)}, {Key: "b", Path: "b.txt"}}},
			want: "b.txt -rw-r--r-- 2\ndir/a.txt -rw------- 1"},
		{name: "missing key", cm: cm, src: v1.ConfigMapVolumeSource{Items: []v1.KeyToPath{{Key: "zz", Path: "z"}}},
			wantErr: "configmap references non-existent config key: zz"},
		{name: "missing key, optional", cm: cm, src: v1.ConfigMapVolumeSource{Optional: ptr.To(true), Items: []v1.KeyToPath{{Key: "zz", Path: "z"}, {Key: "a", Path: "a"}}},
			want: "a -rw-r--r-- 1"},
		{name: "missing object", src: v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "y"}},
			wantErr: `configmap "y" not found`},
		{name: "missing object, optional", src: v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "y"}, Optional: ptr.To(true)},
			want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ConfigMapPayload(&tc.src, tc.cm)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(p); got != tc.want {
				t.Errorf("payload:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestSecretPayload(t *testing.T) {
	s := &v1.Secret{Data: map[string][]byte{"password": []byte("hunter2")}}
	p, err := SecretPayload(&v1.SecretVolumeSource{SecretName: "s"}, s)
	if err != nil || describe(p) != "password -rw-r--r-- hunter2" {
		t.Errorf("payload %q, err %v", describe(p), err)
	}
	if _, err := SecretPayload(&v1.SecretVolumeSource{SecretName: "s"}, nil); err == nil || err.Error() != `secret "s" not found` {
		t.Errorf("missing secret: %v", err)
	}
	_, err = SecretPayload(&v1.SecretVolumeSource{SecretName: "s", Items: []v1.KeyToPath{{Key: "user", Path: "u"}}}, s)
	if err == nil || err.Error() != "references non-existent secret key: user" {
		t.Errorf("missing key: %v", err)
	}
}

func downwardPod() *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web", Namespace: "prod", UID: "uid-1",
			Labels:      map[string]string{"app": "web", "tier": "front"},
			Annotations: map[string]string{"note": `say "hi"` + "\n"},
		},
		Spec: v1.PodSpec{Containers: []v1.Container{{
			Name: "c",
			Resources: v1.ResourceRequirements{
				Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m"), v1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   v1.ResourceList{v1.ResourceMemory: resource.MustParse("128Mi")},
			},
		}}},
	}
}

func TestDownwardAPIPayload(t *testing.T) {
	allocatable := v1.ResourceList{v1.ResourceCPU: resource.MustParse("2"), v1.ResourceMemory: resource.MustParse("4Gi")}
	field := func(path, fp string) v1.DownwardAPIVolumeFile {
		return v1.DownwardAPIVolumeFile{Path: path, FieldRef: &v1.ObjectFieldSelector{FieldPath: fp}}
	}
	res := func(path, r, divisor string) v1.DownwardAPIVolumeFile {
		f := v1.DownwardAPIVolumeFile{Path: path, ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "c", Resource: r}}
		if divisor != "" {
			f.ResourceFieldRef.Divisor = resource.MustParse(divisor)
		}
		return f
	}
	items := []v1.DownwardAPIVolumeFile{
		field("name", "metadata.name"),
		field("namespace", "metadata.namespace"),
		field("uid", "metadata.uid"),
		field("labels", "metadata.labels"),
		field("annotations", "metadata.annotations"),
		field("app", "metadata.labels['app']"),
		res("cpu_limit", "limits.cpu", ""),
		res("cpu_request_m", "requests.cpu", "1m"),
		res("mem_limit_mi", "limits.memory", "1Mi"),
		res("mem_request", "requests.memory", ""),
		{Path: "mode", Mode: ptr.To[int32](0o400), FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
	}
	p, err := DownwardAPIPayload(items, nil, downwardPod(), allocatable)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"name":          "web",
		"namespace":     "prod",
		"uid":           "uid-1",
		"labels":        "app=\"web\"\ntier=\"front\"",
		"annotations":   `note="say \"hi\"\n"`,
		"app":           "web",
		"cpu_limit":     "2", // no limit: the node's allocatable
		"cpu_request_m": "250",
		"mem_limit_mi":  "128",
		"mem_request":   "67108864",
		"mode":          "web",
	}
	for k, v := range want {
		if got := string(p[k].Data); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if p["mode"].Mode != 0o400 || p["name"].Mode != 0o644 {
		t.Errorf("modes: %v %v", p["mode"].Mode, p["name"].Mode)
	}
	if _, err := DownwardAPIPayload([]v1.DownwardAPIVolumeFile{field("x", "spec.nodeName")}, nil, downwardPod(), nil); err == nil {
		t.Errorf("spec.nodeName accepted in a volume")
	}
}

type fakeSources struct {
	cms     map[string]*v1.ConfigMap
	token   string
	tokenOK bool
}

func (f fakeSources) ConfigMap(name string) (*v1.ConfigMap, error) { return f.cms[name], nil }
func (f fakeSources) Secret(name string) (*v1.Secret, error)       { return nil, nil }
func (f fakeSources) Token(p *v1.ServiceAccountTokenProjection) (string, error) {
	if !f.tokenOK {
		return "", errors.New("failed to fetch token: serviceaccounts \"default\" not found")
	}
	return f.token, nil
}

// kubeAPIAccess is the volume the ServiceAccount admission adds.
func kubeAPIAccess() *v1.ProjectedVolumeSource {
	return &v1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o644),
		Sources: []v1.VolumeProjection{
			{ServiceAccountToken: &v1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](3607), Path: "token"}},
			{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []v1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &v1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}
}

func TestProjectedPayload(t *testing.T) {
	src := fakeSources{
		cms:     map[string]*v1.ConfigMap{"kube-root-ca.crt": {Data: map[string]string{"ca.crt": "PEM"}}},
		token:   "eyJ.token",
		tokenOK: true,
	}
	p, err := ProjectedPayload(kubeAPIAccess(), downwardPod(), nil, src)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := describe(p), "ca.crt -rw-r--r-- PEM\nnamespace -rw-r--r-- prod\ntoken -rw-r--r-- eyJ.token"; got != want {
		t.Errorf("payload:\n%s\nwant:\n%s", got, want)
	}
	src.cms = nil
	if _, err := ProjectedPayload(kubeAPIAccess(), downwardPod(), nil, src); err == nil || err.Error() != `configmap "kube-root-ca.crt" not found` {
		t.Errorf("missing CA ConfigMap: %v", err)
	}
	src.tokenOK = false
	if _, err := ProjectedPayload(kubeAPIAccess(), downwardPod(), nil, src); err == nil || !strings.HasPrefix(err.Error(), "failed to fetch token") {
		t.Errorf("token failure: %v", err)
	}
}

func TestSetUpErrorMessage(t *testing.T) {
	err := &SetUpError{Volume: "x", Err: notFound("configmap", "y")}
	if got, want := err.Error(), `MountVolume.SetUp failed for volume "x" : configmap "y" not found`; got != want {
		t.Errorf("%s, want %s", got, want)
	}
}

func TestMemoryVolumeSize(t *testing.T) {
	gi := func(n int64) int64 { return n << 30 }
	mi := func(s string) *resource.Quantity { q := resource.MustParse(s); return &q }
	limited := func(limits ...string) *v1.Pod {
		pod := &v1.Pod{}
		for _, l := range limits {
			c := v1.Container{Name: "c"}
			if l != "" {
				c.Resources.Limits = v1.ResourceList{v1.ResourceMemory: resource.MustParse(l)}
			}
			pod.Spec.Containers = append(pod.Spec.Containers, c)
		}
		return pod
	}
	alloc := v1.ResourceList{v1.ResourceMemory: *resource.NewQuantity(gi(4), resource.BinarySI)}
	for _, tc := range []struct {
		name  string
		pod   *v1.Pod
		limit *resource.Quantity
		alloc v1.ResourceList
		want  int64
	}{
		{"node allocatable", limited(""), nil, alloc, gi(4)},
		{"pod limit when every container has one", limited("1Gi", "512Mi"), nil, alloc, gi(1) + gi(1)/2},
		{"no pod limit when one container lacks it", limited("1Gi", ""), nil, alloc, gi(4)},
		{"sizeLimit below the rest", limited("1Gi"), mi("64Mi"), alloc, 64 << 20},
		{"sizeLimit above the pod limit", limited("1Gi"), mi("8Gi"), alloc, gi(1)},
		{"unknown allocatable", limited(""), mi("64Mi"), nil, 64 << 20},
		{"nothing known", limited(""), nil, nil, 0},
	} {
		if got := MemoryVolumeSize(tc.pod, tc.limit, tc.alloc); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestCheckHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	typ := func(t v1.HostPathType) *v1.HostPathType { return &t }
	for _, tc := range []struct {
		path    string
		typ     *v1.HostPathType
		wantErr string
	}{
		{path: filepath.Join(dir, "nothing"), typ: nil},
		{path: dir, typ: typ(v1.HostPathDirectory)},
		{path: file, typ: typ(v1.HostPathDirectory), wantErr: "hostPath type check failed: " + file + " is not a directory"},
		{path: filepath.Join(dir, "missing"), typ: typ(v1.HostPathDirectory), wantErr: "hostPath type check failed: " + dir + "/missing is not a directory"},
		{path: filepath.Join(dir, "made/deep"), typ: typ(v1.HostPathDirectoryOrCreate)},
		{path: file, typ: typ(v1.HostPathDirectoryOrCreate), wantErr: "hostPath type check failed: " + file + " is not a directory"},
		{path: file, typ: typ(v1.HostPathFile)},
		{path: dir, typ: typ(v1.HostPathFile), wantErr: "hostPath type check failed: " + dir + " is not a file"},
		{path: filepath.Join(dir, "new"), typ: typ(v1.HostPathFileOrCreate)},
		{path: filepath.Join(dir, "no/parent"), typ: typ(v1.HostPathFileOrCreate), wantErr: "no such file or directory"},
		{path: file, typ: typ(v1.HostPathSocket), wantErr: "hostPath type check failed: " + file + " is not a socket file"},
		{path: file, typ: typ(v1.HostPathCharDev), wantErr: "hostPath type check failed: " + file + " is not a character device"},
		{path: "/dev/null", typ: typ(v1.HostPathCharDev)},
		{path: file, typ: typ(v1.HostPathBlockDev), wantErr: "hostPath type check failed: " + file + " is not a block device"},
	} {
		err := CheckHostPath(&v1.HostPathVolumeSource{Path: tc.path, Type: tc.typ})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s %v: %v", tc.path, tc.typ, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s %v: error %v, want %q", tc.path, tc.typ, err, tc.wantErr)
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "made/deep")); err != nil || !info.IsDir() {
		t.Errorf("DirectoryOrCreate did not create: %v", err)
	}
	if info, err := os.Stat(filepath.Join(dir, "new")); err != nil || !info.Mode().IsRegular() {
		t.Errorf("FileOrCreate did not create: %v", err)
	}
}

func TestSubPath(t *testing.T) {
	env := map[string]string{"POD_NAME": "web-0", "EMPTY": ""}
	for expr, want := range map[string]string{
		"logs/$(POD_NAME)": "logs/web-0",
		"$$(POD_NAME)":     "$(POD_NAME)",
		"plain":            "plain",
	} {
		if got, err := ExpandSubPathExpr(expr, env); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", expr, got, err, want)
		}
	}
	if _, err := ExpandSubPathExpr("$(NOPE)/$(EMPTY)", env); err == nil || err.Error() != "missing value for EMPTY, NOPE" {
		t.Errorf("missing variables: %v", err)
	}

	root := t.TempDir()
	os.Chmod(root, 0o777)
	got, err := ResolveSubPath(root, "a/b", "data", "c")
	if err != nil || got != filepath.Join(root, "a/b") {
		t.Fatalf("new subPath: %q %v", got, err)
	}
	if info, _ := os.Stat(got); info == nil || info.Mode().Perm() != 0o777 {
		t.Errorf("subPath directory mode: %v", info)
	}
	// A configMap key: a link into the data directory, resolved.
	vol := filepath.Join(t.TempDir(), "cm")
	if _, err := WriteAtomic(vol, Payload{"app.conf": {Data: []byte("x"), Mode: 0o644}}, t0); err != nil {
		t.Fatal(err)
	}
	got, err = ResolveSubPath(vol, "app.conf", "cm", "c")
	ts, _ := os.Readlink(filepath.Join(vol, dataLink))
	if err != nil || got != filepath.Join(vol, ts, "app.conf") {
		t.Errorf("configMap key subPath: %q %v", got, err)
	}
	// Escapes are refused.
	os.Symlink("/etc", filepath.Join(root, "evil"))
	outside := t.TempDir()
	os.Symlink(filepath.Join(outside, "nothing-yet"), filepath.Join(root, "dangling"))
	for _, sp := range []string{"evil", "evil/passwd", "../x", "/abs", "dangling/x"} {
		if got, err := ResolveSubPath(root, sp, "data", "c"); err == nil {
			t.Errorf("subPath %q resolved to %q", sp, got)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a subPath created %v outside its volume", entries)
	}
}
