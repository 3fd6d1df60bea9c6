package kubelet

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/kedge-dev/kedge/internal/registry/core"
)

// Static pods come from manifest files in a directory
// (Config.StaticPodPath), not from the API server. The kubelet runs them
// itself and shows each one in the API as a mirror pod: same name and
// spec, the config.mirror annotation, owned by the node, with the status
// of the static pod. Deleting the mirror pod does not stop the static pod
// (the kubelet creates the mirror again); removing the file does.
//
// The static pod's UID is a hash of the manifest and the node name: it is
// the same after a kubelet restart (so its containers are adopted) and
// changes with the file (so the pod is replaced). The mirror pod has its
// own UID, given by the API server; the kubelet never runs it.

// Annotations of static and mirror pods, as upstream's kubelet writes them.
const (
	annotationConfigSource = "kubernetes.io/config.source"
	annotationConfigHash   = "kubernetes.io/config.hash"
	annotationConfigSeen   = "kubernetes.io/config.seen"
	annotationConfigMirror = "kubernetes.io/config.mirror"

	staticSourceFile = "file"
	// staticScanPeriod is how often the manifest directory is read and
	// mirror pods are checked (upstream reads it every 20 s).
	staticScanPeriod = 5 * time.Second
)

// isMirrorPod reports whether pod is the API's copy of a static pod.
func isMirrorPod(pod *v1.Pod) bool {
	_, ok := pod.Annotations[annotationConfigMirror]
	return ok
}

// isStaticPod reports whether pod came from a manifest file (and not from
// the API server).
func isStaticPod(pod *v1.Pod) bool {
	return pod.Annotations[annotationConfigSource] == staticSourceFile && !isMirrorPod(pod)
}

// parseStaticPod turns one manifest (YAML or JSON, one Pod) into the
// static pod the kubelet runs on node: named <name>-<node>, in namespace
// "default" unless it names one, bound to the node, with a UID hashed
// from the manifest and the node, upstream's annotations and toleration,
// and the API server's defaults.
func parseStaticPod(data []byte, node string, seen time.Time) (*v1.Pod, error) {
	pod := &v1.Pod{}
	if err := yaml.Unmarshal(data, pod); err != nil {
		return nil, fmt.Errorf("decode pod: %w", err)
	}
	if pod.Kind != "Pod" || pod.APIVersion != "v1" {
		return nil, fmt.Errorf("want apiVersion v1, kind Pod; got apiVersion %q, kind %q", pod.APIVersion, pod.Kind)
	}
	if pod.Name == "" {
		return nil, errors.New("metadata.name is required")
	}
	if pod.UID == "" {
		canonical, err := json.Marshal(pod)
		if err != nil {
			return nil, fmt.Errorf("hash pod: %w", err)
		}
		h := md5.New()
		h.Write(canonical)
		h.Write([]byte(node))
		pod.UID = types.UID(hex.EncodeToString(h.Sum(nil)))
	}
	pod.Name = pod.Name + "-" + strings.ToLower(node)
	if pod.Namespace == "" {
		pod.Namespace = metav1.NamespaceDefault
	}
	pod.Spec.NodeName = node
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[annotationConfigSource] = staticSourceFile
	pod.Annotations[annotationConfigHash] = string(pod.UID)
	pod.Annotations[annotationConfigSeen] = seen.UTC().Format(time.RFC3339Nano)
	delete(pod.Annotations, annotationConfigMirror)
	// Static pods stay on their node whatever its NoExecute taints.
	pod.Spec.Tolerations = append(pod.Spec.Tolerations, v1.Toleration{
		Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute,
	})
	core.DefaultPodSpec(&pod.Spec)
	pod.Status = v1.PodStatus{}
	if err := validateStaticPod(pod); err != nil {
		return nil, err
	}
	return pod, nil
}

func validateStaticPod(pod *v1.Pod) error {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(pod.Name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), pod.Name, msg))
	}
	for _, msg := range validation.IsDNS1123Label(pod.Namespace) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "namespace"), pod.Namespace, msg))
	}
	errs = append(errs, core.ValidatePodSpec(&pod.Spec, field.NewPath("spec"))...)
	return errs.ToAggregate()
}

// manifestFiles lists the files of dir that may hold a manifest, sorted:
// dotfiles and directories are skipped, as upstream does. A missing
// directory has none.
func manifestFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read static pod directory: %w", err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	sort.Strings(out)
	return out, nil
}

// staticEntry is one static pod the kubelet knows.
type staticEntry struct {
	pod *v1.Pod // replaced, never changed in place: readers keep their copy
	// seeded is set once the status was taken over from the mirror pod
	// (after a kubelet restart) or first written.
	seeded bool
}

// staticPods holds the static pods: those of the manifest files, and
// those whose file went away while they stop (DeletionTimestamp set).
type staticPods struct {
	dir, node string

	mu     sync.Mutex
	byUID  map[types.UID]*staticEntry
	errors map[string]string // last parse error by file, logged once
}

func newStaticPods(dir, node string) *staticPods {
	return &staticPods{dir: dir, node: node, byUID: map[types.UID]*staticEntry{}, errors: map[string]string{}}
}

// read parses the manifest directory: the static pods it asks for, by
// UID. Files that do not parse are logged (once per error) and skipped;
// of two files with the same pod name, the first (by file name) wins.
func (s *staticPods) read(now time.Time) (map[types.UID]*v1.Pod, error) {
	files, err := manifestFiles(s.dir)
	if err != nil {
		return nil, err
	}
	want := map[types.UID]*v1.Pod{}
	names := map[string]string{}
	errs := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs[f] = err.Error()
			continue
		}
		pod, err := parseStaticPod(data, s.node, now)
		if err != nil {
			errs[f] = err.Error()
			continue
		}
		key := pod.Namespace + "/" + pod.Name
		if other, dup := names[key]; dup {
			errs[f] = fmt.Sprintf("pod %s is already defined in %s", key, other)
			continue
		}
		names[key] = f
		want[pod.UID] = pod
	}
	s.mu.Lock()
	for f, msg := range errs {
		if s.errors[f] != msg {
			slog.Error("static pod manifest skipped", "file", f, "err", msg)
		}
	}
	s.errors = errs
	s.mu.Unlock()
	return want, nil
}

// staticChanges is what a new reading of the directory changes.
type staticChanges struct {
	// Add are new static pods.
	Add []*v1.Pod
	// Stop are static pods whose file is gone or changed: they stop
	// with their grace period.
	Stop []types.UID
}

// diffStatic compares the known static pods with the wanted ones. A pod
// already stopping stays stopping (it comes back at the next reading
// once it has stopped).
func diffStatic(known map[types.UID]*v1.Pod, want map[types.UID]*v1.Pod) staticChanges {
	var c staticChanges
	for uid, pod := range want {
		if _, ok := known[uid]; !ok {
			c.Add = append(c.Add, pod)
		}
	}
	for uid, pod := range known {
		if _, ok := want[uid]; !ok && pod.DeletionTimestamp == nil {
			c.Stop = append(c.Stop, uid)
		}
	}
	sort.Slice(c.Add, func(i, j int) bool { return c.Add[i].UID < c.Add[j].UID })
	sort.Slice(c.Stop, func(i, j int) bool { return c.Stop[i] < c.Stop[j] })
	return c
}

// apply records the changes and returns the UIDs to sync.
func (s *staticPods) apply(c staticChanges, now time.Time) []types.UID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []types.UID
	for _, pod := range c.Add {
		s.byUID[pod.UID] = &staticEntry{pod: pod}
		out = append(out, pod.UID)
		slog.Info("static pod added", "pod", podFormat(pod))
	}
	for _, uid := range c.Stop {
		e := s.byUID[uid]
		pod := e.pod.DeepCopy()
		pod.DeletionTimestamp = &metav1.Time{Time: now}
		pod.DeletionGracePeriodSeconds = ptr(gracePeriod(pod))
		e.pod = pod
		out = append(out, uid)
		slog.Info("static pod manifest removed or changed; stopping the pod", "pod", podFormat(pod))
	}
	return out
}

// known is a snapshot of the static pods by UID.
func (s *staticPods) known() map[types.UID]*v1.Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[types.UID]*v1.Pod, len(s.byUID))
	for uid, e := range s.byUID {
		out[uid] = e.pod
	}
	return out
}

// get returns the static pod with uid, nil if there is none or if it
// waits for an older static pod of the same name to stop (a changed
// manifest replaces its pod, never runs beside it).
func (s *staticPods) get(uid types.UID) (pod *v1.Pod, seeded bool) {
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byUID[uid]
	if !ok {
		return nil, false
	}
	if e.pod.DeletionTimestamp == nil {
		for _, o := range s.byUID {
			if o.pod.DeletionTimestamp != nil && o.pod.Namespace == e.pod.Namespace && o.pod.Name == e.pod.Name {
				return nil, false
			}
		}
	}
	return e.pod, e.seeded
}

// byName returns the static pod that runs as namespace/name: the
// stopping one while its successor waits.
func (s *staticPods) byName(namespace, name string) *v1.Pod {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var found *v1.Pod
	for _, e := range s.byUID {
		if e.pod.Namespace == namespace && e.pod.Name == name && (found == nil || e.pod.DeletionTimestamp != nil) {
			found = e.pod
		}
	}
	return found
}

// setStatus records the status of a static pod (what the next sync
// computes the new one from).
func (s *staticPods) setStatus(uid types.UID, st v1.PodStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byUID[uid]; ok {
		pod := e.pod.DeepCopy()
		pod.Status = *st.DeepCopy()
		e.pod, e.seeded = pod, true
	}
}

// remove forgets a static pod that has stopped and returns the UIDs of
// pods that waited for it.
func (s *staticPods) remove(uid types.UID) []types.UID {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byUID[uid]
	if !ok {
		return nil
	}
	delete(s.byUID, uid)
	var waiting []types.UID
	for u, o := range s.byUID {
		if o.pod.Namespace == e.pod.Namespace && o.pod.Name == e.pod.Name {
			waiting = append(waiting, u)
		}
	}
	return waiting
}

// list returns the static pods that run (not those that wait).
func (s *staticPods) list() []*v1.Pod {
	if s == nil {
		return nil
	}
	var out []*v1.Pod
	for uid := range s.known() {
		if pod, _ := s.get(uid); pod != nil {
			out = append(out, pod)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name })
	return out
}

// buildMirrorPod is the API's copy of a static pod: its name, labels,
// annotations (plus config.mirror) and spec, owned by the node. The API
// server gives it its own UID.
func buildMirrorPod(static *v1.Pod, nodeUID types.UID) *v1.Pod {
	mirror := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        static.Name,
			Namespace:   static.Namespace,
			Labels:      static.DeepCopy().Labels,
			Annotations: map[string]string{},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: static.Spec.NodeName, UID: nodeUID, Controller: ptr(true),
			}},
		},
		Spec: *static.Spec.DeepCopy(),
	}
	for k, v := range static.Annotations {
		mirror.Annotations[k] = v
	}
	mirror.Annotations[annotationConfigMirror] = static.Annotations[annotationConfigHash]
	return mirror
}

// isMirrorOf reports whether mirror is the current mirror pod of static.
func isMirrorOf(mirror, static *v1.Pod) bool {
	return mirror != nil && mirror.Annotations[annotationConfigMirror] == static.Annotations[annotationConfigHash] &&
		mirror.DeletionTimestamp == nil
}

// mirrorActions decides what to do with the API pod of a static pod's
// name: delete it (a mirror being deleted, or the mirror of an older
// manifest) and create a new mirror. A stopping static pod gets no new
// mirror; a pod that is not a mirror is never touched.
func mirrorActions(static, existing *v1.Pod) (deleteExisting, create bool) {
	stopping := static.DeletionTimestamp != nil
	switch {
	case existing == nil:
		return false, !stopping
	case !isMirrorPod(existing):
		return false, false
	case isMirrorOf(existing, static):
		return false, false
	case stopping:
		return false, false // another manifest's mirror, or going anyway
	default:
		return true, true
	}
}

// orphanMirrors returns the mirror pods (of this node's API pods) that no
// static pod owns: their manifest is gone.
func orphanMirrors(apiPods []*v1.Pod, static []*v1.Pod) []*v1.Pod {
	names := map[string]bool{}
	for _, p := range static {
		names[p.Namespace+"/"+p.Name] = true
	}
	var out []*v1.Pod
	for _, p := range apiPods {
		if isMirrorPod(p) && !names[p.Namespace+"/"+p.Name] {
			out = append(out, p)
		}
	}
	return out
}

// needsMirrorSync reports whether a static pod's mirror is missing or
// stale (so a sync should create or replace it).
func needsMirrorSync(static, existing *v1.Pod) bool {
	del, create := mirrorActions(static, existing)
	return del || create
}

// staticPodPath is the manifest directory.
func (k *Kubelet) staticPodPath() string {
	if k.cfg.StaticPodPath != "" {
		return k.cfg.StaticPodPath
	}
	return filepath.Join(k.cfg.DataDir, "pod-manifests")
}

// staticLoop reads the manifest directory every staticScanPeriod (Run
// reads it once before pods run: see scanStatic), and keeps mirror pods
// in line: static pods without a current mirror are synced, mirrors
// without a static pod deleted.
func (k *Kubelet) staticLoop(ctx context.Context) {
	t := time.NewTicker(staticScanPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		k.scanStatic()
		k.reconcileMirrors(ctx)
	}
}

// scanStatic reads the manifest directory and queues the static pods it
// adds or stops.
func (k *Kubelet) scanStatic() {
	now := time.Now()
	want, err := k.static.read(now)
	if err != nil {
		slog.Error("static pods", "err", err)
		return
	}
	for _, uid := range k.static.apply(diffStatic(k.static.known(), want), now) {
		k.queue.Add(uid)
	}
}

// apiPods are the pods of the informer (mirror pods included).
func (k *Kubelet) apiPods() []*v1.Pod {
	var out []*v1.Pod
	for _, o := range k.pods.List() {
		if p, ok := o.(*v1.Pod); ok {
			out = append(out, p)
		}
	}
	return out
}

// mirrorPod is the API pod named like static (from the informer), if any.
func (k *Kubelet) mirrorPod(static *v1.Pod) *v1.Pod {
	if k.pods == nil {
		return nil
	}
	obj, ok, err := k.pods.GetByKey(static.Namespace + "/" + static.Name)
	if err != nil || !ok {
		return nil
	}
	p, _ := obj.(*v1.Pod)
	return p
}

func (k *Kubelet) reconcileMirrors(ctx context.Context) {
	static := k.static.list()
	for _, p := range static {
		if needsMirrorSync(p, k.mirrorPod(p)) {
			k.queue.Add(p.UID)
		}
	}
	for _, m := range orphanMirrors(k.apiPods(), static) {
		slog.Info("deleting mirror pod: its static pod is gone", "pod", podFormat(m))
		if err := k.deleteMirror(ctx, m); err != nil {
			slog.Error("delete orphaned mirror pod", "pod", podFormat(m), "err", err)
		}
	}
}

// staticPod returns the static pod with uid (nil if none runs as uid).
// The first time after a kubelet restart it takes the status of the
// current mirror pod, so start time, restart counts and condition times
// carry over.
func (k *Kubelet) staticPod(uid types.UID) *v1.Pod {
	pod, seeded := k.static.get(uid)
	if pod == nil || seeded {
		return pod
	}
	if m := k.mirrorPod(pod); isMirrorOf(m, pod) {
		k.static.setStatus(uid, m.Status)
		pod, _ = k.static.get(uid)
	}
	return pod
}

// queueKey is the pod UID to sync for an informer event: mirror pods
// stand for their static pod.
func queueKey(pod *v1.Pod) types.UID {
	if isMirrorPod(pod) {
		return types.UID(pod.Annotations[annotationConfigMirror])
	}
	return pod.UID
}

// writeStaticStatus records a static pod's status and writes it to its
// mirror pod, creating or replacing the mirror first when needed.
func (k *Kubelet) writeStaticStatus(ctx context.Context, pod *v1.Pod, st v1.PodStatus) error {
	k.static.setStatus(pod.UID, st)
	pods := k.client.CoreV1().Pods(pod.Namespace)
	mirror := k.mirrorPod(pod)
	del, create := mirrorActions(pod, mirror)
	if del {
		slog.Info("replacing mirror pod", "pod", podFormat(mirror), "deleting", mirror.DeletionTimestamp != nil)
		if err := k.deleteMirror(ctx, mirror); err != nil {
			return err
		}
		mirror = nil
	}
	if create {
		k.mu.Lock()
		nodeUID := k.nodeUID
		k.mu.Unlock()
		if nodeUID == "" {
			return nil // the node is not registered yet; staticLoop retries
		}
		created, err := pods.Create(ctx, buildMirrorPod(pod, nodeUID), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// The informer is behind: take what is there.
			created, err = pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if err == nil && !isMirrorOf(created, pod) {
				return fmt.Errorf("create mirror pod %s: a different pod of that name exists", podFormat(pod))
			}
		}
		if err != nil {
			return fmt.Errorf("create mirror pod %s: %w", podFormat(pod), err)
		}
		slog.Info("mirror pod created", "pod", podFormat(pod), "mirrorUID", created.UID)
		mirror = created
	}
	if mirror == nil || mirror.Annotations[annotationConfigMirror] != string(pod.UID) || mirror.DeletionTimestamp != nil {
		return nil
	}
	if apiequality.Semantic.DeepEqual(mirror.Status, st) {
		return nil
	}
	updated := mirror.DeepCopy()
	updated.Status = st
	_, err := pods.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		cur, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if cur.Annotations[annotationConfigMirror] != string(pod.UID) {
			return nil
		}
		cur.Status = st
		_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil // deleted meanwhile; its delete event queues the pod
	}
	if err != nil {
		return fmt.Errorf("update status of mirror pod %s: %w", podFormat(pod), err)
	}
	return nil
}

// deleteMirror deletes a mirror pod at once (the static pod is what
// runs; there is nothing to stop).
func (k *Kubelet) deleteMirror(ctx context.Context, mirror *v1.Pod) error {
	uid := mirror.UID
	err := k.client.CoreV1().Pods(mirror.Namespace).Delete(ctx, mirror.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr(int64(0)),
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete mirror pod %s: %w", podFormat(mirror), err)
	}
	return nil
}

// finishStatic ends a static pod whose manifest is gone and whose
// containers are stopped and removed: its mirror is deleted and pods
// that waited for it (the changed manifest's) are queued.
func (k *Kubelet) finishStatic(ctx context.Context, pod *v1.Pod) error {
	if m := k.mirrorPod(pod); m != nil && m.Annotations[annotationConfigMirror] == string(pod.UID) {
		if err := k.deleteMirror(ctx, m); err != nil {
			return err
		}
	}
	for _, uid := range k.static.remove(pod.UID) {
		k.queue.Add(uid)
	}
	slog.Info("static pod stopped", "pod", podFormat(pod))
	return nil
}
