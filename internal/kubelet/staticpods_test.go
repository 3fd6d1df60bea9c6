package kubelet

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

const staticYAML = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: c
    image: localhost/busybox:1.36
    command: ["sleep", "3600"]
`

func TestParseStaticPod(t *testing.T) {
	seen := time.Date(2026, 11, 29, 12, 0, 0, 123, time.UTC)
	tests := []struct {
		name     string
		manifest string
		wantErr  string
		check    func(t *testing.T, p *v1.Pod)
	}{
		{name: "yaml", manifest: staticYAML, check: func(t *testing.T, p *v1.Pod) {
			if p.Name != "web-node1" || p.Namespace != "default" || p.Spec.NodeName != "node1" {
				t.Errorf("name %s/%s node %q", p.Namespace, p.Name, p.Spec.NodeName)
			}
			if len(p.UID) != 32 {
				t.Errorf("uid %q is not an md5 hex hash", p.UID)
			}
			want := map[string]string{
				"kubernetes.io/config.source": "file",
				"kubernetes.io/config.hash":   string(p.UID),
				"kubernetes.io/config.seen":   "2026-11-29T12:00:00.000000123Z",
			}
			if !reflect.DeepEqual(p.Annotations, want) {
				t.Errorf("annotations %v, want %v", p.Annotations, want)
			}
			if p.Labels["app"] != "web" {
				t.Errorf("labels %v", p.Labels)
			}
			tol := []v1.Toleration{{Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute}}
			if !reflect.DeepEqual(p.Spec.Tolerations, tol) {
				t.Errorf("tolerations %+v", p.Spec.Tolerations)
			}
			s, c := p.Spec, p.Spec.Containers[0]
			if s.RestartPolicy != v1.RestartPolicyAlways || s.DNSPolicy != v1.DNSClusterFirst ||
				s.TerminationGracePeriodSeconds == nil || *s.TerminationGracePeriodSeconds != 30 ||
				s.SchedulerName != "default-scheduler" || s.EnableServiceLinks == nil || !*s.EnableServiceLinks ||
				s.SecurityContext == nil {
				t.Errorf("pod defaults missing: %+v", s)
			}
			if c.ImagePullPolicy != v1.PullIfNotPresent || c.TerminationMessagePath != "/dev/termination-log" ||
				c.TerminationMessagePolicy != v1.TerminationMessageReadFile {
				t.Errorf("container defaults missing: %+v", c)
			}
			if !isStaticPod(p) || isMirrorPod(p) {
				t.Errorf("static %v mirror %v", isStaticPod(p), isMirrorPod(p))
			}
		}},
		{name: "json with namespace", manifest: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"etcd","namespace":"kube-system"},
			"spec":{"hostNetwork":true,"tolerations":[{"key":"k","operator":"Exists"}],"containers":[{"name":"e","image":"etcd:3.6"}]}}`,
			check: func(t *testing.T, p *v1.Pod) {
				if p.Name != "etcd-node1" || p.Namespace != "kube-system" {
					t.Errorf("name %s/%s", p.Namespace, p.Name)
				}
				if len(p.Spec.Tolerations) != 2 || p.Spec.Tolerations[1].Effect != v1.TaintEffectNoExecute {
					t.Errorf("tolerations %+v", p.Spec.Tolerations)
				}
			}},
		{name: "explicit uid kept", manifest: strings.Replace(staticYAML, "  name: web\n", "  name: web\n  uid: my-uid\n", 1),
			check: func(t *testing.T, p *v1.Pod) {
				if p.UID != "my-uid" || p.Annotations[annotationConfigHash] != "my-uid" {
					t.Errorf("uid %q hash %q", p.UID, p.Annotations[annotationConfigHash])
				}
			}},
		{name: "mirror annotation dropped", manifest: strings.Replace(staticYAML, "  labels:", "  annotations: {kubernetes.io/config.mirror: x, a: b}\n  labels:", 1),
			check: func(t *testing.T, p *v1.Pod) {
				if isMirrorPod(p) || p.Annotations["a"] != "b" {
					t.Errorf("annotations %v", p.Annotations)
				}
			}},
		{name: "not a pod", manifest: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n", wantErr: "want apiVersion v1, kind Pod"},
		{name: "no kind", manifest: "metadata: {name: d}\nspec: {containers: [{name: c, image: i}]}\n", wantErr: "kind Pod"},
		{name: "no name", manifest: strings.Replace(staticYAML, "  name: web\n", "", 1), wantErr: "metadata.name is required"},
		{name: "invalid spec", manifest: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n", wantErr: "spec.containers"},
		{name: "bad name", manifest: strings.Replace(staticYAML, "name: web", "name: Web_1", 1), wantErr: "metadata.name"},
		{name: "garbage", manifest: "{not yaml: [", wantErr: "decode pod"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseStaticPod([]byte(tc.manifest), "node1", seen)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
		})
	}
}

func TestStaticPodUID(t *testing.T) {
	uid := func(manifest, node string) types.UID {
		t.Helper()
		p, err := parseStaticPod([]byte(manifest), node, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p.UID
	}
	base := uid(staticYAML, "node1")
	if got := uid(staticYAML, "node1"); got != base {
		t.Errorf("same manifest, different UID: %s vs %s", got, base)
	}
	reformatted := "# a comment\n" + strings.ReplaceAll(staticYAML, `["sleep", "3600"]`, "\n    - sleep\n    - \"3600\"")
	if got := uid(reformatted, "node1"); got != base {
		t.Errorf("same pod written differently, different UID: %s vs %s", got, base)
	}
	if got := uid(strings.Replace(staticYAML, "3600", "3601", 1), "node1"); got == base {
		t.Error("changed manifest kept its UID")
	}
	if got := uid(staticYAML, "node2"); got == base {
		t.Error("another node's pod has the same UID")
	}
}

func TestManifestFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.yaml", "a.json", ".hidden.yaml", "c.yaml.swp"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	got, err := manifestFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a.json"), filepath.Join(dir, "b.yaml"), filepath.Join(dir, "c.yaml.swp")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
	if got, err := manifestFiles(filepath.Join(dir, "missing")); err != nil || got != nil {
		t.Errorf("missing dir: %v %v", got, err)
	}
}

func TestStaticPodsRead(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "1-web.yaml"), []byte(staticYAML), 0o644)
	os.WriteFile(filepath.Join(dir, "2-dup.yaml"), []byte(strings.Replace(staticYAML, "3600", "1", 1)), 0o644)
	os.WriteFile(filepath.Join(dir, "3-bad.yaml"), []byte("kind: Service"), 0o644)
	os.WriteFile(filepath.Join(dir, "4-other.yaml"), []byte(strings.Replace(staticYAML, "name: web", "name: other", 1)), 0o644)
	s := newStaticPods(dir, "n1")
	want, err := s.read(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range want {
		names = append(names, p.Name)
		if p.Name == "web-n1" && p.Spec.Containers[0].Command[1] != "3600" {
			t.Errorf("duplicate name: the later file won")
		}
	}
	if len(names) != 2 {
		t.Errorf("pods %v, want web-n1 and other-n1", names)
	}
	if len(s.errors) != 2 || !strings.Contains(s.errors[filepath.Join(dir, "2-dup.yaml")], "already defined") {
		t.Errorf("errors %v", s.errors)
	}
}

func staticTestPod(name string, uid types.UID, stopping bool) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid,
		Annotations: map[string]string{annotationConfigSource: "file", annotationConfigHash: string(uid)}}}
	p.Spec.NodeName = "n1"
	p.Spec.Containers = []v1.Container{{Name: "c", Image: "i"}}
	if stopping {
		p.DeletionTimestamp = &metav1.Time{Time: t0}
	}
	return p
}

func TestDiffStatic(t *testing.T) {
	a, b, c := staticTestPod("a", "ua", false), staticTestPod("b", "ub", false), staticTestPod("c", "uc", true)
	tests := []struct {
		name      string
		known     []*v1.Pod
		want      []*v1.Pod
		wantAdd   []types.UID
		wantStops []types.UID
	}{
		{name: "nothing", wantAdd: nil},
		{name: "new file", want: []*v1.Pod{a, b}, wantAdd: []types.UID{"ua", "ub"}},
		{name: "unchanged", known: []*v1.Pod{a}, want: []*v1.Pod{a}},
		{name: "file removed", known: []*v1.Pod{a, b}, want: []*v1.Pod{a}, wantStops: []types.UID{"ub"}},
		{name: "already stopping", known: []*v1.Pod{c}},
		{name: "stopping pod's file back: waits until stopped", known: []*v1.Pod{c}, want: []*v1.Pod{c}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			known, want := map[types.UID]*v1.Pod{}, map[types.UID]*v1.Pod{}
			for _, p := range tc.known {
				known[p.UID] = p
			}
			for _, p := range tc.want {
				want[p.UID] = p
			}
			got := diffStatic(known, want)
			var add []types.UID
			for _, p := range got.Add {
				add = append(add, p.UID)
			}
			if !reflect.DeepEqual(add, tc.wantAdd) || !reflect.DeepEqual(got.Stop, tc.wantStops) {
				t.Errorf("add %v stop %v, want %v %v", add, got.Stop, tc.wantAdd, tc.wantStops)
			}
		})
	}
}

// A changed manifest: the old pod stops first, the new one waits for it.
func TestStaticPodsReplace(t *testing.T) {
	s := newStaticPods("", "n1")
	old := staticTestPod("web-n1", "old", false)
	old.Spec.TerminationGracePeriodSeconds = ptr(int64(7))
	s.apply(staticChanges{Add: []*v1.Pod{old}}, t0)
	if p, _ := s.get("old"); p == nil {
		t.Fatal("added pod not found")
	}
	queued := s.apply(diffStatic(s.known(), map[types.UID]*v1.Pod{"new": staticTestPod("web-n1", "new", false)}), t0)
	if !reflect.DeepEqual(queued, []types.UID{"new", "old"}) {
		t.Errorf("queued %v", queued)
	}
	p, _ := s.get("old")
	if p == nil || p.DeletionTimestamp == nil || *p.DeletionGracePeriodSeconds != 7 {
		t.Fatalf("old pod not stopping with its grace period: %+v", p)
	}
	if p, _ := s.get("new"); p != nil {
		t.Error("new pod runs beside the stopping one")
	}
	if got := s.byName("default", "web-n1"); got == nil || got.UID != "old" {
		t.Errorf("byName while replacing: %v", got)
	}
	if got := s.list(); len(got) != 1 || got[0].UID != "old" {
		t.Errorf("list while replacing: %v", got)
	}
	if waiting := s.remove("old"); !reflect.DeepEqual(waiting, []types.UID{"new"}) {
		t.Errorf("remove: waiting %v", waiting)
	}
	if p, _ := s.get("new"); p == nil {
		t.Error("new pod not started after the old one stopped")
	}
	s.setStatus("new", v1.PodStatus{Phase: v1.PodRunning})
	if p, seeded := s.get("new"); p.Status.Phase != v1.PodRunning || !seeded {
		t.Errorf("status %v seeded %v", p.Status.Phase, seeded)
	}
}

func TestBuildMirrorPod(t *testing.T) {
	static := staticTestPod("web-n1", "hash1", false)
	static.Labels = map[string]string{"app": "web"}
	static.Status.Phase = v1.PodRunning
	m := buildMirrorPod(static, "node-uid")
	if m.UID != "" || m.ResourceVersion != "" || m.Name != "web-n1" || m.Namespace != "default" {
		t.Errorf("meta %+v", m.ObjectMeta)
	}
	want := map[string]string{annotationConfigSource: "file", annotationConfigHash: "hash1", annotationConfigMirror: "hash1"}
	if !reflect.DeepEqual(m.Annotations, want) || m.Labels["app"] != "web" {
		t.Errorf("annotations %v labels %v", m.Annotations, m.Labels)
	}
	owners := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "node-uid", Controller: ptr(true)}}
	if !reflect.DeepEqual(m.OwnerReferences, owners) {
		t.Errorf("owners %+v", m.OwnerReferences)
	}
	if !reflect.DeepEqual(m.Spec, static.Spec) || m.Status.Phase != "" {
		t.Errorf("spec or status not as wanted")
	}
	if !isMirrorPod(m) || isStaticPod(m) || !isMirrorOf(m, static) || queueKey(m) != "hash1" {
		t.Errorf("mirror %v static %v of %v key %v", isMirrorPod(m), isStaticPod(m), isMirrorOf(m, static), queueKey(m))
	}
	static.Annotations["x"] = "changed"
	if m.Annotations["x"] != "" {
		t.Error("mirror shares the static pod's annotations")
	}
}

func TestMirrorActions(t *testing.T) {
	static := staticTestPod("web-n1", "h2", false)
	stopping := staticTestPod("web-n1", "h2", true)
	mirror := func(hash string, deleting bool) *v1.Pod {
		m := buildMirrorPod(staticTestPod("web-n1", types.UID(hash), false), "node-uid")
		m.UID = "api-uid"
		if deleting {
			m.DeletionTimestamp = &metav1.Time{Time: t0}
		}
		return m
	}
	regular := staticTestPod("web-n1", "api", false)
	regular.Annotations = nil
	tests := []struct {
		name           string
		static, mirror *v1.Pod
		del, create    bool
	}{
		{"no mirror yet", static, nil, false, true},
		{"current mirror", static, mirror("h2", false), false, false},
		{"mirror deleted by a user", static, mirror("h2", true), true, true},
		{"mirror of the old manifest", static, mirror("h1", false), true, true},
		{"a regular pod has the name", static, regular, false, false},
		{"stopping, no mirror", stopping, nil, false, false},
		{"stopping, own mirror", stopping, mirror("h2", false), false, false},
		{"stopping, other mirror", stopping, mirror("h3", false), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			del, create := mirrorActions(tc.static, tc.mirror)
			if del != tc.del || create != tc.create {
				t.Errorf("delete %v create %v, want %v %v", del, create, tc.del, tc.create)
			}
			if needsMirrorSync(tc.static, tc.mirror) != (tc.del || tc.create) {
				t.Error("needsMirrorSync disagrees")
			}
		})
	}
}

func TestOrphanMirrors(t *testing.T) {
	static := []*v1.Pod{staticTestPod("a-n1", "ha", false)}
	ma := buildMirrorPod(static[0], "n")
	mb := buildMirrorPod(staticTestPod("b-n1", "hb", false), "n")
	regular := staticTestPod("c", "uc", false)
	regular.Annotations = nil
	got := orphanMirrors([]*v1.Pod{ma, mb, regular}, static)
	if len(got) != 1 || got[0].Name != "b-n1" {
		t.Errorf("orphans %v", got)
	}
}

// testStaticKubelet is a kubelet with a fake API, an informer cache the
// test fills and the static pods of dir.
func testStaticKubelet(t *testing.T, objs ...*v1.Pod) (*Kubelet, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset()
	k := &Kubelet{
		cfg:    Config{NodeName: "n1"},
		client: client,
		pods: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{podUIDIndex: func(obj any) ([]string, error) {
			return []string{string(obj.(*v1.Pod).UID)}, nil
		}}),
		static:  newStaticPods(t.TempDir(), "n1"),
		nodeUID: "node-uid",
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.UID]()),
	}
	t.Cleanup(k.queue.ShutDown)
	for _, o := range objs {
		client.Tracker().Add(o)
		k.pods.Add(o)
	}
	return k, client
}

func TestPodByUIDStatic(t *testing.T) {
	static := staticTestPod("web-n1", "h1", false)
	mirror := buildMirrorPod(static, "node-uid")
	mirror.UID = "api-uid"
	mirror.Status = v1.PodStatus{Phase: v1.PodRunning, StartTime: &metav1.Time{Time: t0}}
	k, _ := testStaticKubelet(t, mirror)
	if k.podByUID("api-uid") != nil {
		t.Error("the mirror pod is run as a pod of its own")
	}
	if k.podByUID("h1") != nil {
		t.Error("static pod found before its file was read")
	}
	k.static.apply(staticChanges{Add: []*v1.Pod{static}}, t0)
	p := k.podByUID("h1")
	if p == nil || !isStaticPod(p) {
		t.Fatalf("static pod not found by its UID: %v", p)
	}
	if p.Status.Phase != v1.PodRunning || p.Status.StartTime == nil {
		t.Errorf("status not taken over from the mirror pod: %+v", p.Status)
	}
	if got, ok := (apiHost{k}).Pod("default", "web-n1"); !ok || got.UID != "h1" {
		t.Errorf("kubelet API pod: %v", got)
	}
	if pods := (apiHost{k}).Pods(); len(pods) != 1 || pods[0].UID != "h1" {
		t.Errorf("kubelet API pods: %v", pods)
	}
}

func TestWriteStaticStatus(t *testing.T) {
	ctx := context.Background()
	static := staticTestPod("web-n1", "h2", false)
	running := v1.PodStatus{Phase: v1.PodRunning, PodIP: "10.42.0.9"}
	getMirror := func(t *testing.T, client *fake.Clientset) *v1.Pod {
		t.Helper()
		m, err := client.CoreV1().Pods("default").Get(ctx, "web-n1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	oldMirror := buildMirrorPod(staticTestPod("web-n1", "h1", false), "node-uid")
	oldMirror.UID = "api-old"
	deleting := buildMirrorPod(static, "node-uid")
	deleting.UID = "api-deleting"
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	current := buildMirrorPod(static, "node-uid")
	current.UID = "api-current"

	tests := []struct {
		name     string
		existing *v1.Pod
		stopping bool
		wantHash string // "" when no mirror should exist
	}{
		{name: "creates the mirror", wantHash: "h2"},
		{name: "replaces a mirror being deleted", existing: deleting, wantHash: "h2"},
		{name: "replaces the old manifest's mirror", existing: oldMirror, wantHash: "h2"},
		{name: "updates the current mirror", existing: current, wantHash: "h2"},
		{name: "stopping pod gets no mirror", stopping: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var objs []*v1.Pod
			if tc.existing != nil {
				objs = append(objs, tc.existing.DeepCopy())
			}
			k, client := testStaticKubelet(t, objs...)
			pod := static.DeepCopy()
			if tc.stopping {
				pod.DeletionTimestamp = &metav1.Time{Time: t0}
			}
			k.static.apply(staticChanges{Add: []*v1.Pod{pod}}, t0)
			if err := k.writeStaticStatus(ctx, pod, running); err != nil {
				t.Fatal(err)
			}
			if got, _ := k.static.get("h2"); got.Status.PodIP != "10.42.0.9" {
				t.Errorf("static pod status not recorded: %+v", got.Status)
			}
			if tc.wantHash == "" {
				if _, err := client.CoreV1().Pods("default").Get(ctx, "web-n1", metav1.GetOptions{}); err == nil {
					t.Error("a mirror pod was created")
				}
				return
			}
			m := getMirror(t, client)
			if m.Annotations[annotationConfigMirror] != tc.wantHash || m.DeletionTimestamp != nil {
				t.Errorf("mirror annotations %v deleting %v", m.Annotations, m.DeletionTimestamp)
			}
			if len(m.OwnerReferences) != 1 || m.OwnerReferences[0].Kind != "Node" || m.OwnerReferences[0].UID != "node-uid" {
				t.Errorf("owner %+v", m.OwnerReferences)
			}
			if m.Status.PodIP != "10.42.0.9" || m.Status.Phase != v1.PodRunning {
				t.Errorf("mirror status %+v", m.Status)
			}
		})
	}

	t.Run("no node UID yet: waits", func(t *testing.T) {
		k, client := testStaticKubelet(t)
		k.nodeUID = ""
		k.static.apply(staticChanges{Add: []*v1.Pod{static.DeepCopy()}}, t0)
		if err := k.writeStaticStatus(ctx, static, running); err != nil {
			t.Fatal(err)
		}
		if l, _ := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
			t.Errorf("mirror created without the node's UID")
		}
	})

	t.Run("stale informer: AlreadyExists takes the API's mirror", func(t *testing.T) {
		k, client := testStaticKubelet(t)
		m := current.DeepCopy()
		client.Tracker().Add(m) // in the API, not yet in the informer
		k.static.apply(staticChanges{Add: []*v1.Pod{static.DeepCopy()}}, t0)
		if err := k.writeStaticStatus(ctx, static, running); err != nil {
			t.Fatal(err)
		}
		if got := getMirror(t, client); got.UID != "api-current" || got.Status.PodIP != "10.42.0.9" {
			t.Errorf("mirror %s status %+v", got.UID, got.Status)
		}
	})
}

func TestFinishStatic(t *testing.T) {
	ctx := context.Background()
	old := staticTestPod("web-n1", "h1", true)
	next := staticTestPod("web-n1", "h2", false)
	mirror := buildMirrorPod(old, "node-uid")
	mirror.UID = "api-uid"
	k, client := testStaticKubelet(t, mirror)
	k.static.apply(staticChanges{Add: []*v1.Pod{old, next}}, t0)
	if err := k.finishStatic(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Pods("default").Get(ctx, "web-n1", metav1.GetOptions{}); err == nil {
		t.Error("mirror pod of the stopped static pod not deleted")
	}
	if p, _ := k.static.get("h1"); p != nil {
		t.Error("stopped static pod still known")
	}
	if k.queue.Len() != 1 {
		t.Errorf("the waiting pod was not queued (queue length %d)", k.queue.Len())
	}
}

func TestReconcileMirrorsDeletesOrphans(t *testing.T) {
	ctx := context.Background()
	orphan := buildMirrorPod(staticTestPod("gone-n1", "hg", false), "node-uid")
	orphan.UID = "api-gone"
	keep := staticTestPod("web-n1", "h1", false)
	k, client := testStaticKubelet(t, orphan)
	k.static.apply(staticChanges{Add: []*v1.Pod{keep}}, t0)
	for k.queue.Len() > 0 { // drop what apply queued
		uid, _ := k.queue.Get()
		k.queue.Done(uid)
	}
	k.reconcileMirrors(ctx)
	if _, err := client.CoreV1().Pods("default").Get(ctx, "gone-n1", metav1.GetOptions{}); err == nil {
		t.Error("orphaned mirror pod not deleted")
	}
	if k.queue.Len() != 1 {
		t.Errorf("static pod without a mirror not queued (queue length %d)", k.queue.Len())
	}
}
