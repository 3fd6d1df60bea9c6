package images

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestLoadRegistriesWritesHostsToml(t *testing.T) {
	dir := t.TempDir()
	yml := `
mirrors:
  "localhost:5000":
    endpoint: ["http://localhost:5000"]
  docker.io:
    endpoint: ["https://mirror.example.com:8443"]
configs:
  "mirror.example.com:8443":
    tls:
      insecure_skip_verify: true
    auth:
      username: u
      password: p
  "secure.example.com":
    tls:
      ca_file: /etc/ca.pem
      cert_file: /etc/c.pem
      key_file: /etc/k.pem
`
	path := filepath.Join(dir, "registries.yaml")
	os.WriteFile(path, []byte(yml), 0o644)
	r, err := LoadRegistries(path)
	if err != nil {
		t.Fatal(err)
	}
	certs := filepath.Join(dir, "certs.d")
	os.MkdirAll(filepath.Join(certs, "user.example"), 0o755)
	os.WriteFile(filepath.Join(certs, "user.example", "hosts.toml"), []byte("server = \"x\"\n"), 0o644)
	if err := WriteHostsDir(certs, r); err != nil {
		t.Fatal(err)
	}
	read := func(host string) string {
		data, err := os.ReadFile(filepath.Join(certs, host, "hosts.toml"))
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		return string(data)
	}
	for host, want := range map[string][]string{
		"localhost:5000":     {`server = "http://localhost:5000"`},
		"docker.io":          {`server = "https://registry-1.docker.io"`, `[host."https://mirror.example.com:8443"]`, "  skip_verify = true"},
		"secure.example.com": {`server = "https://secure.example.com"`, `ca = "/etc/ca.pem"`, `client = [["/etc/c.pem", "/etc/k.pem"]]`},
		"user.example":       {`server = "x"`}, // not ours: left alone
	} {
		got := read(host)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s hosts.toml lacks %q:\n%s", host, w, got)
			}
		}
	}
	// A plain-HTTP registry listed as its own endpoint is its default
	// endpoint: no https:// fallback whose TLS error would hide the
	// registry's answer.
	if got := read("localhost:5000"); strings.Contains(got, "https://") || strings.Contains(got, "[host.") {
		t.Errorf("localhost:5000 hosts.toml:\n%s", got)
	}
	// A host dropped from the file loses its generated hosts.toml.
	delete(r.Mirrors, "localhost:5000")
	if err := WriteHostsDir(certs, r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(certs, "localhost:5000")); !os.IsNotExist(err) {
		t.Errorf("stale hosts dir kept: %v", err)
	}
	if a := r.Auth("mirror.example.com:8443"); a == nil || a.Username != "u" || a.Password != "p" {
		t.Errorf("auth: %+v", a)
	}
	if a := r.Auth("docker.io"); a == nil || a.Username != "u" {
		t.Errorf("auth through the mirror: %+v", a)
	}
	if a := r.Auth("other"); a != nil {
		t.Errorf("auth for unknown host: %+v", a)
	}
}

func TestLoadRegistriesErrors(t *testing.T) {
	dir := t.TempDir()
	if r, err := LoadRegistries(filepath.Join(dir, "missing.yaml")); err != nil || len(r.Mirrors) != 0 {
		t.Errorf("missing file: %v %v", r, err)
	}
	for name, yml := range map[string]string{
		"unknown field": "mirrorz: {}\n",
		"bad scheme":    "mirrors: {a: {endpoint: [\"ftp://a\"]}}\n",
	} {
		p := filepath.Join(dir, "r.yaml")
		os.WriteFile(p, []byte(yml), 0o644)
		if _, err := LoadRegistries(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRepository(t *testing.T) {
	for image, want := range map[string][2]string{
		"busybox":                                  {"docker.io", "library/busybox"},
		"busybox:1.36":                             {"docker.io", "library/busybox"},
		"bitnami/redis:7":                          {"docker.io", "bitnami/redis"},
		"index.docker.io/library/nginx":            {"docker.io", "library/nginx"},
		"localhost:5000/app:v1":                    {"localhost:5000", "app"},
		"localhost/pause:3.10":                     {"localhost", "pause"},
		"registry.example.com/team/app@sha256:abc": {"registry.example.com", "team/app"},
	} {
		h, r := Repository(image)
		if [2]string{h, r} != want {
			t.Errorf("%s: got %s %s, want %v", image, h, r, want)
		}
	}
}

func TestKeyringLookup(t *testing.T) {
	k := &Keyring{}
	cfgJSON := `{"auths":{
		"https://index.docker.io/v1/":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("hub:hubpw")) + `"},
		"registry.example.com":{"username":"all","password":"a"},
		"registry.example.com/team":{"username":"team","password":"t"},
		"*.corp.example":{"username":"glob","password":"g"},
		"127.0.0.1:5000":{"username":"local","password":"l"}}}`
	if err := k.Add(&v1.Secret{Type: v1.SecretTypeDockerConfigJson, Data: map[string][]byte{v1.DockerConfigJsonKey: []byte(cfgJSON)}}); err != nil {
		t.Fatal(err)
	}
	if err := k.Add(&v1.Secret{Type: v1.SecretTypeDockercfg, Data: map[string][]byte{v1.DockerConfigKey: []byte(`{"old.example:444":{"username":"old","password":"o"}}`)}}); err != nil {
		t.Fatal(err)
	}
	k.Add(&v1.Secret{Type: v1.SecretTypeOpaque}) // ignored
	if err := k.Add(&v1.Secret{Type: v1.SecretTypeDockerConfigJson, Data: map[string][]byte{v1.DockerConfigJsonKey: []byte("{")}}); err == nil {
		t.Error("bad JSON accepted")
	}
	users := func(image string) []string {
		var out []string
		for _, a := range k.Lookup(image) {
			out = append(out, a.Username+":"+a.Password)
		}
		return out
	}
	for image, want := range map[string][]string{
		"busybox":                            {"hub:hubpw"},
		"registry.example.com/team/app:1":    {"team:t", "all:a"},
		"registry.example.com/teamx/app":     {"all:a"},
		"registry.example.com:5000/team/app": nil,
		"a.corp.example/x":                   {"glob:g"},
		"a.b.corp.example/x":                 nil,
		"127.0.0.1:5000/img:latest":          {"local:l"},
		"old.example:444/x":                  {"old:o"},
		"quay.io/x":                          nil,
	} {
		if got := users(image); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", image, got, want)
		}
	}
}

func TestPullError(t *testing.T) {
	for name, tc := range map[string]struct {
		err                   error
		text, reason, message string
	}{
		"unknown code loses its prefix": {grpcstatus.Error(codes.Unknown, "failed to pull: connection refused"),
			"failed to pull: connection refused", ReasonErrImagePull, "failed to pull: connection refused"},
		"not found keeps it": {grpcstatus.Error(codes.NotFound, "x: not found"),
			"rpc error: code = NotFound desc = x: not found", ReasonErrImagePull, "rpc error: code = NotFound desc = x: not found"},
		"registry unavailable": {errors.New("RegistryUnavailable: down"),
			"RegistryUnavailable: down", ReasonRegistryUnavailable, "image pull failed for img because the registry is unavailable: down"},
	} {
		text, reason, msg := PullError("img", tc.err)
		if text != tc.text || reason != tc.reason || msg != tc.message {
			t.Errorf("%s: got %q %q %q", name, text, reason, msg)
		}
	}
	if got := BackOffMessage("a:1", "ErrImagePull", "boom"); got != `Back-off pulling image "a:1": ErrImagePull: boom` {
		t.Errorf("back-off message %q", got)
	}
	if got := NeverPullMessage("a:1"); got != `Container image "a:1" is not present with pull policy of Never` {
		t.Errorf("never message %q", got)
	}
}

func TestPlan(t *testing.T) {
	now := time.Unix(10000, 0)
	old := now.Add(-time.Hour)
	imgs := []Image{
		{ID: "used", Size: 50, InUse: true, FirstDetected: old},
		{ID: "pause", Size: 50, Pinned: true, FirstDetected: old},
		{ID: "young", Size: 50, FirstDetected: now.Add(-time.Minute)},
		{ID: "recent", Size: 30, FirstDetected: old, LastUsed: now.Add(-time.Minute)},
		{ID: "lru", Size: 30, FirstDetected: old, LastUsed: now.Add(-30 * time.Minute)},
		{ID: "never", Size: 30, FirstDetected: old},
	}
	ids := func(in []Image) []string {
		var out []string
		for _, i := range in {
			out = append(out, i.ID)
		}
		return out
	}
	for name, tc := range map[string]struct {
		usage  Usage
		toFree int64
		remove []string
	}{
		"below high threshold": {Usage{Capacity: 1000, Available: 151}, 0, nil},
		"at high threshold":    {Usage{Capacity: 1000, Available: 150}, 50, []string{"never", "lru"}},
		"more than eligible":   {Usage{Capacity: 1000, Available: 0}, 200, []string{"never", "lru", "recent"}},
		"unknown capacity":     {Usage{}, 0, nil},
	} {
		toFree, remove := Plan(DefaultPolicy(), tc.usage, imgs, now)
		if toFree != tc.toFree || !reflect.DeepEqual(ids(remove), tc.remove) {
			t.Errorf("%s: got %d %v, want %d %v", name, toFree, ids(remove), tc.toFree, tc.remove)
		}
	}
}

type fakeRuntime struct {
	images     []*runtimeapi.Image
	containers []*runtimeapi.Container
	removed    []string
}

func (f *fakeRuntime) ListImages(context.Context, *runtimeapi.ListImagesRequest, ...grpc.CallOption) (*runtimeapi.ListImagesResponse, error) {
	return &runtimeapi.ListImagesResponse{Images: f.images}, nil
}
func (f *fakeRuntime) ListContainers(context.Context, *runtimeapi.ListContainersRequest, ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error) {
	return &runtimeapi.ListContainersResponse{Containers: f.containers}, nil
}
func (f *fakeRuntime) RemoveImage(_ context.Context, r *runtimeapi.RemoveImageRequest, _ ...grpc.CallOption) (*runtimeapi.RemoveImageResponse, error) {
	f.removed = append(f.removed, r.Image.Image)
	var keep []*runtimeapi.Image
	for _, i := range f.images {
		if i.Id != r.Image.Image {
			keep = append(keep, i)
		}
	}
	f.images = keep
	return &runtimeapi.RemoveImageResponse{}, nil
}

func TestGCRemovesLeastRecentlyUsedAndReportsShortfall(t *testing.T) {
	rt := &fakeRuntime{
		images: []*runtimeapi.Image{
			{Id: "sha256:pause", RepoTags: []string{"localhost/pause:3.10"}, Size: 100},
			{Id: "sha256:a", RepoTags: []string{"a:1"}, Size: 100},
			{Id: "sha256:b", RepoTags: []string{"b:1"}, Size: 100},
			{Id: "sha256:c", RepoTags: []string{"c:1"}, Size: 100},
		},
		containers: []*runtimeapi.Container{{Image: &runtimeapi.ImageSpec{Image: "sha256:c"}, ImageRef: "sha256:c"}},
	}
	now := time.Unix(10000, 0)
	var events []string
	usage := Usage{Capacity: 1000, Available: 100} // 90 % used: free 100 bytes
	gc := NewGC(GCConfig{
		Runtime:   rt,
		Protected: []string{"localhost/pause:3.10"},
		Usage:     func() (Usage, error) { return usage, nil },
		Event:     func(typ, reason, msg string) { events = append(events, typ+" "+reason+" "+msg) },
		Now:       func() time.Time { return now },
	})
	gc.Detect(context.Background())
	now = now.Add(time.Minute)
	// b was used more recently than a.
	rt.containers = append(rt.containers, &runtimeapi.Container{Image: &runtimeapi.ImageSpec{Image: "b:1"}})
	gc.Detect(context.Background())
	rt.containers = rt.containers[:1]
	if err := gc.Collect(context.Background()); err == nil || len(rt.removed) != 0 {
		t.Fatalf("images younger than MinAge: removed %v, err %v", rt.removed, err)
	}
	events = nil
	now = now.Add(5 * time.Minute)
	if err := gc.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rt.removed, []string{"sha256:a"}) {
		t.Errorf("removed %v, want the least recently used only", rt.removed)
	}
	usage.Available = 0 // needs 200; only b (100) is eligible
	if err := gc.Collect(context.Background()); err == nil {
		t.Error("no error when short")
	}
	want := "Warning FreeDiskSpaceFailed Failed to garbage collect required amount of images. Attempted to free 200 bytes, but only found 100 bytes eligible to free."
	if len(events) != 1 || events[0] != want {
		t.Errorf("events %q", events)
	}
	if !reflect.DeepEqual(rt.removed, []string{"sha256:a", "sha256:b"}) {
		t.Errorf("removed %v (pause and in-use images must stay)", rt.removed)
	}
}
