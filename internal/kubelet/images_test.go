package kubelet

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeImages is an image service holding a set of images; pulls of
// images not in remote fail as containerd's do.
type fakeImages struct {
	runtimeService
	local  map[string]bool
	remote map[string]string // image -> required username ("" = anonymous)
	auths  []*runtimeapi.AuthConfig
}

func (f *fakeImages) ImageStatus(_ context.Context, r *runtimeapi.ImageStatusRequest, _ ...grpc.CallOption) (*runtimeapi.ImageStatusResponse, error) {
	if f.local[r.Image.Image] {
		return &runtimeapi.ImageStatusResponse{Image: &runtimeapi.Image{Id: "sha256:" + r.Image.Image, Size: 1234}}, nil
	}
	return &runtimeapi.ImageStatusResponse{}, nil
}

func (f *fakeImages) PullImage(_ context.Context, r *runtimeapi.PullImageRequest, _ ...grpc.CallOption) (*runtimeapi.PullImageResponse, error) {
	f.auths = append(f.auths, r.Auth)
	user, ok := f.remote[r.Image.Image]
	if !ok {
		return nil, grpcstatus.Errorf(codes.NotFound, "failed to pull and unpack image %q: not found", r.Image.Image)
	}
	if user != "" && (r.Auth == nil || r.Auth.Username != user) {
		return nil, grpcstatus.Errorf(codes.Unknown, "failed to pull and unpack image %q: 401 Unauthorized", r.Image.Image)
	}
	f.local[r.Image.Image] = true
	return &runtimeapi.PullImageResponse{ImageRef: "sha256:" + r.Image.Image}, nil
}

func imageKubelet(rt *fakeImages, objs ...any) (*Kubelet, *record.FakeRecorder) {
	rec := record.NewFakeRecorder(100)
	client := fake.NewClientset()
	for _, o := range objs {
		client.Tracker().Add(o.(*v1.Secret))
	}
	return &Kubelet{
		client:      client,
		runtime:     rt,
		recorder:    rec,
		pullBackoff: newBackoff(backoffInitial, backoffMax),
		waits:       map[types.UID]map[string]waitState{},
	}, rec
}

func drain(rec *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestEnsureImagePolicies(t *testing.T) {
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u1"}}
	for name, tc := range map[string]struct {
		image   string
		policy  v1.PullPolicy
		local   bool
		pulls   int
		wantErr bool
		reason  string
		message string
		events  []string
	}{
		"IfNotPresent and present: no pull": {image: "a:1", policy: v1.PullIfNotPresent, local: true,
			events: []string{`Normal Pulled Container image "a:1" already present on machine and can be accessed by the pod`}},
		"Always and present: pulls": {image: "a:1", policy: v1.PullAlways, local: true, pulls: 1,
			events: []string{`Normal Pulling Pulling image "a:1"`, `Normal Pulled Successfully pulled image "a:1" in`}},
		"Never and missing": {image: "a:1", policy: v1.PullNever, wantErr: true, reason: "ErrImageNeverPull",
			message: `Container image "a:1" is not present with pull policy of Never`,
			events:  []string{`Warning ErrImageNeverPull Container image "a:1" is not present with pull policy of Never`, "Warning Failed Error: ErrImageNeverPull"}},
		"Never and present": {image: "a:1", policy: v1.PullNever, local: true,
			events: []string{`Normal Pulled Container image "a:1" already present`}},
		"missing remotely": {image: "nope:1", policy: v1.PullIfNotPresent, pulls: 1, wantErr: true, reason: "ErrImagePull",
			message: `rpc error: code = NotFound desc = failed to pull and unpack image "nope:1": not found`,
			events: []string{`Normal Pulling Pulling image "nope:1"`,
				`Warning Failed Failed to pull image "nope:1": rpc error: code = NotFound desc = failed to pull and unpack image "nope:1": not found`,
				"Warning Failed Error: ErrImagePull"}},
	} {
		t.Run(name, func(t *testing.T) {
			rt := &fakeImages{local: map[string]bool{}, remote: map[string]string{"a:1": ""}}
			if tc.local {
				rt.local[tc.image] = true
			}
			k, rec := imageKubelet(rt)
			c := &v1.Container{Name: "c", Image: tc.image, ImagePullPolicy: tc.policy}
			ref, _, err := k.ensureImage(context.Background(), pod, c, "containers", nil)
			if (err != nil) != tc.wantErr || (err == nil && ref != "sha256:"+tc.image) {
				t.Fatalf("ref %q err %v", ref, err)
			}
			if len(rt.auths) != tc.pulls {
				t.Errorf("%d pulls, want %d", len(rt.auths), tc.pulls)
			}
			w := k.waits[pod.UID]["c"]
			if w.Reason != tc.reason || w.Message != tc.message {
				t.Errorf("waiting %+v, want %s %q", w, tc.reason, tc.message)
			}
			events := drain(rec)
			if len(events) != len(tc.events) {
				t.Fatalf("events %q, want %q", events, tc.events)
			}
			for i := range events {
				if !strings.HasPrefix(events[i], tc.events[i]) {
					t.Errorf("event %q, want prefix %q", events[i], tc.events[i])
				}
			}
		})
	}
}

func TestEnsureImageBackOff(t *testing.T) {
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u1"}}
	rt := &fakeImages{local: map[string]bool{}, remote: map[string]string{}}
	k, rec := imageKubelet(rt)
	c := &v1.Container{Name: "c", Image: "nope:1", ImagePullPolicy: v1.PullIfNotPresent}
	_, wait, err := k.ensureImage(context.Background(), pod, c, "containers", nil)
	if err == nil || wait != 10*time.Second {
		t.Fatalf("first failure: wait %v err %v", wait, err)
	}
	drain(rec)
	_, wait, err = k.ensureImage(context.Background(), pod, c, "containers", nil)
	if err == nil || wait <= 0 || wait > 10*time.Second || len(rt.auths) != 1 {
		t.Fatalf("in back-off: wait %v err %v pulls %d", wait, err, len(rt.auths))
	}
	w := k.waits[pod.UID]["c"]
	want := `Back-off pulling image "nope:1": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image "nope:1": not found`
	if w.Reason != "ImagePullBackOff" || w.Message != want {
		t.Errorf("waiting %+v", w)
	}
	if ev := drain(rec); len(ev) != 2 || ev[0] != `Normal BackOff Back-off pulling image "nope:1"` || ev[1] != "Warning Failed Error: ImagePullBackOff" {
		t.Errorf("events %q", ev)
	}
	// The next failure doubles the delay.
	now := time.Now()
	k.pullBackoff.entries[string(pod.UID)+"/image/nope:1"].lastUpdate = now.Add(-11 * time.Second)
	if _, wait, _ = k.ensureImage(context.Background(), pod, c, "containers", nil); wait != 20*time.Second {
		t.Errorf("second failure: wait %v, want 20s", wait)
	}
}

func TestEnsureImagePullSecrets(t *testing.T) {
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{
		"registry.example.com:5000": map[string]string{"username": "bob", "password": "pw"},
	}})
	secret := &v1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: "default"},
		Type: v1.SecretTypeDockerConfigJson, Data: map[string][]byte{v1.DockerConfigJsonKey: cfg}}
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u1"},
		Spec: v1.PodSpec{ImagePullSecrets: []v1.LocalObjectReference{{Name: "missing"}, {Name: "regcred"}}}}
	image := "registry.example.com:5000/app:1"
	rt := &fakeImages{local: map[string]bool{}, remote: map[string]string{image: "bob", "other:1": ""}}
	k, rec := imageKubelet(rt, secret)
	c := &v1.Container{Name: "c", Image: image, ImagePullPolicy: v1.PullAlways}
	if _, _, err := k.ensureImage(context.Background(), pod, c, "containers", nil); err != nil {
		t.Fatal(err)
	}
	if len(rt.auths) != 1 || rt.auths[0] == nil || rt.auths[0].Username != "bob" || rt.auths[0].Password != "pw" {
		t.Errorf("auth sent: %v", rt.auths)
	}
	ev := drain(rec)
	if len(ev) == 0 || ev[0] != "Warning FailedToRetrieveImagePullSecret Unable to retrieve some image pull secrets (missing); attempting to pull the image may not succeed." {
		t.Errorf("events %q", ev)
	}
	// Another registry gets no credentials.
	rt.auths = nil
	c.Image = "other:1"
	if _, _, err := k.ensureImage(context.Background(), pod, c, "containers", nil); err != nil || len(rt.auths) != 1 || rt.auths[0] != nil {
		t.Errorf("other registry: err %v auths %v", err, rt.auths)
	}
}
