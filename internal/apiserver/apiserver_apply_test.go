package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

const deploymentApply = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: localhost/echo:1
        ports: [{containerPort: 80}]
`

func deploymentConfig(replicas int) []byte {
	return []byte(fmt.Sprintf(deploymentApply, replicas))
}

// entry finds the managedFields entry of a manager, operation and
// subresource.
func entry(fields []metav1.ManagedFieldsEntry, manager string, op metav1.ManagedFieldsOperationType, sub string) *metav1.ManagedFieldsEntry {
	for i := range fields {
		f := &fields[i]
		if f.Manager == manager && f.Operation == op && f.Subresource == sub {
			return f
		}
	}
	return nil
}

// owns says whether an entry's fieldsV1 holds a path such as
// "f:spec.f:replicas".
func owns(e *metav1.ManagedFieldsEntry, path string) bool {
	if e == nil || e.FieldsV1 == nil {
		return false
	}
	var node map[string]interface{}
	if json.Unmarshal(e.FieldsV1.Raw, &node) != nil {
		return false
	}
	for _, part := range strings.Split(path, ".") {
		next, ok := node[part].(map[string]interface{})
		if !ok {
			return false
		}
		node = next
	}
	return true
}

func applyDeployment(ctx context.Context, c kubernetes.Interface, body []byte, manager string, force bool) (*appsv1.Deployment, error) {
	opts := metav1.PatchOptions{FieldManager: manager}
	if force {
		opts.Force = ptr.To(true)
	}
	return c.AppsV1().Deployments("default").Patch(ctx, "web", types.ApplyPatchType, body, opts)
}

func TestCreateUpdateAndPatchRecordManagedFields(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	// Without fieldManager the manager is the User-Agent before its "/".
	cfg := rest.CopyConfig(s.config)
	cfg.UserAgent = "kubectl-create/v1.32.0 (linux/amd64) kubernetes/abc"
	c := kubernetes.NewForConfigOrDie(cfg)
	p, err := c.CoreV1().Pods("default").Create(ctx, pod("p"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := entry(p.ManagedFields, "kubectl-create", metav1.ManagedFieldsOperationUpdate, "")
	if e == nil || e.APIVersion != "v1" || e.FieldsType != "FieldsV1" || e.Time == nil {
		t.Fatalf("create: want an Update entry of kubectl-create for v1, got %+v", p.ManagedFields)
	}
	if !owns(e, `f:metadata.f:labels.f:app`) || !owns(e, `f:spec.f:containers.k:{"name":"c"}.f:image`) {
		t.Errorf("create entry should own the labels and the image: %s", e.FieldsV1.Raw)
	}
	// Defaults set before the fields were recorded are the creator's too,
	// as upstream's.
	if !owns(e, `f:spec.f:restartPolicy`) {
		t.Errorf("create entry should own defaulted fields: %s", e.FieldsV1.Raw)
	}
	// ... but not what admission sets afterwards (the service account, the
	// default tolerations), as upstream's.
	if owns(e, `f:spec.f:serviceAccountName`) || owns(e, `f:spec.f:tolerations`) || p.Spec.ServiceAccountName != "default" {
		t.Errorf("create entry should not own admission's fields: %s", e.FieldsV1.Raw)
	}
	if owns(e, "f:status") {
		t.Errorf("the main resource of a kind with status never owns status: %s", e.FieldsV1.Raw)
	}
	// Stored and served alike.
	got, _ := s.client.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
	if len(got.ManagedFields) != 1 {
		t.Fatalf("stored managedFields: %+v", got.ManagedFields)
	}

	// An update by another manager: the changed field moves to it.
	got.Labels["app"] = "db"
	up, err := s.client.CoreV1().Pods("default").Update(ctx, got, metav1.UpdateOptions{FieldManager: "editor"})
	if err != nil {
		t.Fatal(err)
	}
	if e := entry(up.ManagedFields, "editor", metav1.ManagedFieldsOperationUpdate, ""); !owns(e, "f:metadata.f:labels.f:app") {
		t.Errorf("update: editor should own the label: %+v", up.ManagedFields)
	}
	if owns(entry(up.ManagedFields, "kubectl-create", metav1.ManagedFieldsOperationUpdate, ""), "f:metadata.f:labels.f:app") {
		t.Error("update: kubectl-create should have lost the label")
	}

	// A status write is recorded for the status subresource.
	up.Status.Conditions = []corev1.PodCondition{{Type: "Ready", Status: corev1.ConditionFalse}}
	st, err := s.client.CoreV1().Pods("default").UpdateStatus(ctx, up, metav1.UpdateOptions{FieldManager: "kubelet"})
	if err != nil {
		t.Fatal(err)
	}
	if e := entry(st.ManagedFields, "kubelet", metav1.ManagedFieldsOperationUpdate, "status"); !owns(e, "f:status.f:conditions") || owns(e, "f:spec") {
		t.Errorf("status update: %+v", st.ManagedFields)
	}

	// A patch by the same manager merges into its entry.
	pp, err := s.client.CoreV1().Pods("default").Patch(ctx, "p", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"extra":"x"}}}`), metav1.PatchOptions{FieldManager: "editor"})
	if err != nil {
		t.Fatal(err)
	}
	if e := entry(pp.ManagedFields, "editor", metav1.ManagedFieldsOperationUpdate, ""); !owns(e, "f:metadata.f:labels.f:app") || !owns(e, "f:metadata.f:labels.f:extra") {
		t.Errorf("patch: editor's entry should hold both labels: %+v", pp.ManagedFields)
	}
	if n := len(pp.ManagedFields); n != 3 {
		t.Errorf("want 3 entries (kubectl-create, editor, kubelet/status), got %d", n)
	}

	// A write that changes nothing makes no new revision.
	again, err := s.client.CoreV1().Pods("default").Update(ctx, pp, metav1.UpdateOptions{FieldManager: "editor"})
	if err != nil {
		t.Fatal(err)
	}
	if again.ResourceVersion != pp.ResourceVersion {
		t.Errorf("a no-op update made a new revision")
	}
}

func TestInvalidManagedFieldsInARequestAreReset(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	p := pod("p")
	p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "x", Operation: "Bogus"}}
	got, err := s.client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{FieldManager: "creator"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ManagedFields) != 1 || got.ManagedFields[0].Manager != "creator" {
		t.Errorf("want only the creator's entry, got %+v", got.ManagedFields)
	}
	// A list of one empty entry clears them; the patch's own fields are
	// recorded.
	up, err := s.client.CoreV1().Pods("default").Patch(ctx, "p", types.JSONPatchType,
		[]byte(`[{"op":"replace","path":"/metadata/managedFields","value":[{}]},{"op":"add","path":"/metadata/labels/new","value":"y"}]`),
		metav1.PatchOptions{FieldManager: "updater"})
	if err != nil {
		t.Fatal(err)
	}
	if len(up.ManagedFields) != 0 || up.Labels["new"] != "y" {
		t.Errorf("after a reset want no managedFields at all (as upstream), got %+v", up.ManagedFields)
	}
	// And later writes of an object without them do not bring them back.
	up.Labels["later"] = "z"
	later, err := s.client.CoreV1().Pods("default").Update(ctx, up, metav1.UpdateOptions{FieldManager: "updater"})
	if err != nil || len(later.ManagedFields) != 0 {
		t.Errorf("update after a reset: %v %+v", err, later.ManagedFields)
	}
}

func TestApplyCreatesConflictsAndForces(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	rc := s.client.AppsV1().RESTClient()

	// Create on apply: 201.
	var code int
	res := rc.Patch(types.ApplyPatchType).AbsPath("/apis/apps/v1/namespaces/default/deployments/web").
		Param("fieldManager", "kubectl").Body(deploymentConfig(2)).Do(ctx).StatusCode(&code)
	if err := res.Error(); err != nil || code != http.StatusCreated {
		t.Fatalf("create on apply: %d %v", code, err)
	}
	d, err := s.client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := entry(d.ManagedFields, "kubectl", metav1.ManagedFieldsOperationApply, "")
	if e == nil || e.APIVersion != "apps/v1" || !owns(e, "f:spec.f:replicas") || !owns(e, `f:spec.f:template.f:spec.f:containers.k:{"name":"c"}.f:ports.k:{"containerPort":80,"protocol":"TCP"}`) {
		t.Fatalf("apply entry: %+v", d.ManagedFields)
	}
	if owns(e, "f:spec.f:revisionHistoryLimit") {
		t.Errorf("an apply owns what it applied, not the defaults: %s", e.FieldsV1.Raw)
	}
	if *d.Spec.Replicas != 2 || d.Spec.RevisionHistoryLimit == nil || d.Generation != 1 {
		t.Errorf("applied object not created and defaulted: %+v", d.Spec)
	}

	// Applying the same configuration again changes nothing.
	same, err := applyDeployment(ctx, s.client, deploymentConfig(2), "kubectl", false)
	if err != nil || same.ResourceVersion != d.ResourceVersion {
		t.Errorf("re-apply: %v (rv %s → %s)", err, d.ResourceVersion, same.ResourceVersion)
	}

	// Another manager changes replicas; applying another value conflicts.
	if _, err := s.client.AppsV1().Deployments("default").Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{FieldManager: "kubectl-client-side-apply"}); err != nil {
		t.Fatal(err)
	}
	_, err = applyDeployment(ctx, s.client, deploymentConfig(4), "kubectl", false)
	if !apierrors.IsConflict(err) {
		t.Fatalf("want 409 Conflict, got %v", err)
	}
	st := err.(apierrors.APIStatus).Status()
	want := `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas`
	if st.Message != want || st.Reason != metav1.StatusReasonConflict || st.Details == nil || len(st.Details.Causes) != 1 ||
		st.Details.Causes[0].Type != metav1.CauseTypeFieldManagerConflict || st.Details.Causes[0].Field != ".spec.replicas" {
		t.Errorf("conflict status: %+v", st)
	}

	// Force takes the field over.
	forced, err := applyDeployment(ctx, s.client, deploymentConfig(4), "kubectl", true)
	if err != nil {
		t.Fatal(err)
	}
	if *forced.Spec.Replicas != 4 || !owns(entry(forced.ManagedFields, "kubectl", metav1.ManagedFieldsOperationApply, ""), "f:spec.f:replicas") ||
		entry(forced.ManagedFields, "kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, "") != nil {
		t.Errorf("after force: replicas %d, %+v", *forced.Spec.Replicas, forced.ManagedFields)
	}
	if forced.Generation != 3 {
		t.Errorf("generation: want 3 after two spec changes, got %d", forced.Generation)
	}

	// A field left out of the next apply is removed.
	withoutTier := strings.Replace(string(deploymentConfig(4)), "labels: {app: web, tier: front}", "labels: {app: web}", 1)
	pruned, err := applyDeployment(ctx, s.client, []byte(withoutTier), "kubectl", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pruned.Labels["tier"]; ok || pruned.Labels["app"] != "web" {
		t.Errorf("label left out of the apply should go: %v", pruned.Labels)
	}

	// dryRun changes nothing.
	dry, err := s.client.AppsV1().Deployments("default").Patch(ctx, "web", types.ApplyPatchType, deploymentConfig(7),
		metav1.PatchOptions{FieldManager: "kubectl", DryRun: []string{metav1.DryRunAll}})
	if err != nil || *dry.Spec.Replicas != 7 {
		t.Fatalf("dry run: %v", err)
	}
	cur, _ := s.client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if *cur.Spec.Replicas != 4 || cur.ResourceVersion != pruned.ResourceVersion {
		t.Errorf("dry run stored: replicas %d", *cur.Spec.Replicas)
	}
	_, err = s.client.AppsV1().Deployments("default").Patch(ctx, "new", types.ApplyPatchType,
		[]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"new"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`),
		metav1.PatchOptions{FieldManager: "kubectl", DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.AppsV1().Deployments("default").Get(ctx, "new", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("dry-run create on apply stored the object: %v", err)
	}
}

func TestApplyRequestErrors(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	rc := s.client.AppsV1().RESTClient()
	status := func(err error) metav1.Status {
		t.Helper()
		se, ok := err.(apierrors.APIStatus)
		if !ok {
			t.Fatalf("want a Status error, got %v", err)
		}
		return se.Status()
	}

	err := rc.Patch(types.ApplyPatchType).AbsPath("/apis/apps/v1/namespaces/default/deployments/web").Body(deploymentConfig(1)).Do(ctx).Error()
	if st := status(err); st.Code != 422 || st.Message != `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch` {
		t.Errorf("apply without fieldManager: %d %q", st.Code, st.Message)
	}
	err = rc.Patch(types.MergePatchType).AbsPath("/apis/apps/v1/namespaces/default/deployments/web").Param("force", "true").Body([]byte(`{}`)).Do(ctx).Error()
	if st := status(err); st.Code != 422 || !strings.Contains(st.Message, "force: Forbidden: may not be specified for non-apply patch") {
		t.Errorf("force on a merge patch: %d %q", st.Code, st.Message)
	}
	err = rc.Patch("application/apply-patch+cbor").AbsPath("/apis/apps/v1/namespaces/default/deployments/web").Body([]byte(`{}`)).Do(ctx).Error()
	if st := status(err); st.Code != 415 || !strings.HasSuffix(st.Message, "application/strategic-merge-patch+json, application/apply-patch+yaml") {
		t.Errorf("unserved patch type: %d %q", st.Code, st.Message)
	}

	// A field the schema does not declare: upstream's 500 with the message
	// (naming the namespace of the body, here none).
	unknown := strings.Replace(string(deploymentConfig(1)), "  replicas: 1\n", "  replicas: 1\n  bogus: true\n", 1)
	_, err = applyDeployment(ctx, s.client, []byte(unknown), "kubectl", false)
	if st := status(err); st.Code != 500 || st.Message != `failed to create typed patch object (/web; apps/v1, Kind=Deployment): .spec.bogus: field not declared in schema` {
		t.Errorf("unknown field: %d %q", st.Code, st.Message)
	}

	// Duplicate fields: an error under Strict, a warning under Warn.
	dup := strings.Replace(string(deploymentConfig(1)), "  replicas: 1\n", "  replicas: 1\n  replicas: 1\n", 1)
	_, err = s.client.AppsV1().Deployments("default").Patch(ctx, "web", types.ApplyPatchType, []byte(dup),
		metav1.PatchOptions{FieldManager: "kubectl", FieldValidation: "Strict"})
	if st := status(err); st.Code != 400 || !strings.HasPrefix(st.Message, "error strict decoding patch: ") || !strings.Contains(st.Message, `"replicas" already set in map`) {
		t.Errorf("duplicate field under Strict: %d %q", st.Code, st.Message)
	}
	res := rc.Patch(types.ApplyPatchType).AbsPath("/apis/apps/v1/namespaces/default/deployments/web").
		Param("fieldManager", "kubectl").Param("fieldValidation", "Warn").Body([]byte(dup)).Do(ctx)
	if res.Error() != nil || len(res.Warnings()) != 1 || !strings.Contains(res.Warnings()[0].Text, `"replicas" already set in map`) {
		t.Errorf("duplicate field under Warn: %v %+v", res.Error(), res.Warnings())
	}

	// managedFields may not be applied; the kind must be the resource's.
	withMF := strings.Replace(string(deploymentConfig(1)), "  name: web\n", "  name: web\n  managedFields: [{manager: x}]\n", 1)
	_, err = applyDeployment(ctx, s.client, []byte(withMF), "kubectl", false)
	if st := status(err); st.Code != 400 || st.Message != "metadata.managedFields must be nil" {
		t.Errorf("managedFields in an apply: %d %q", st.Code, st.Message)
	}
	_, err = applyDeployment(ctx, s.client, []byte(strings.Replace(string(deploymentConfig(1)), "kind: Deployment", "kind: ReplicaSet", 1)), "kubectl", false)
	if st := status(err); st.Code != 400 || st.Message != "invalid object type: apps/v1, Kind=ReplicaSet" {
		t.Errorf("wrong kind: %d %q", st.Code, st.Message)
	}
	_, err = s.client.AppsV1().Deployments("default").Patch(ctx, "other", types.ApplyPatchType, deploymentConfig(1), metav1.PatchOptions{FieldManager: "kubectl"})
	if st := status(err); st.Code != 400 || st.Message != "the name of the object (web) does not match the name on the URL (other)" {
		t.Errorf("name mismatch: %d %q", st.Code, st.Message)
	}
	_, err = s.client.AppsV1().Deployments("default").Patch(ctx, "web", types.ApplyPatchType, []byte("- a\n- b\n"), metav1.PatchOptions{FieldManager: "kubectl"})
	if st := status(err); st.Code != 400 || !strings.HasPrefix(st.Message, "error decoding patch: ") {
		t.Errorf("a list as body: %d %q", st.Code, st.Message)
	}
}

func TestApplyToStatusAndScale(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	if _, err := applyDeployment(ctx, s.client, deploymentConfig(2), "kubectl", false); err != nil {
		t.Fatal(err)
	}

	// Status: the status manager owns only status, with subresource status.
	st, err := s.client.AppsV1().Deployments("default").Patch(ctx, "web", types.ApplyPatchType,
		[]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":9},"status":{"observedGeneration":1,"replicas":2}}`),
		metav1.PatchOptions{FieldManager: "deployment-controller"}, "status")
	if err != nil {
		t.Fatal(err)
	}
	e := entry(st.ManagedFields, "deployment-controller", metav1.ManagedFieldsOperationApply, "status")
	if st.Status.Replicas != 2 || *st.Spec.Replicas != 2 || !owns(e, "f:status.f:replicas") || owns(e, "f:spec") {
		t.Errorf("status apply: replicas %d/%d %+v", *st.Spec.Replicas, st.Status.Replicas, st.ManagedFields)
	}
	_, err = s.client.AppsV1().Deployments("default").Patch(ctx, "missing", types.ApplyPatchType,
		[]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"missing"},"status":{"replicas":2}}`),
		metav1.PatchOptions{FieldManager: "x"}, "status")
	if !apierrors.IsNotFound(err) {
		t.Errorf("status apply to a missing object: want NotFound, got %v", err)
	}

	// kubectl scale: a merge patch of /scale, recorded on the deployment
	// with subresource scale.
	if _, err := s.client.AppsV1().Deployments("default").Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"spec":{"replicas":5}}`), metav1.PatchOptions{FieldManager: "kubectl"}, "scale"); err != nil {
		t.Fatal(err)
	}
	d, _ := s.client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	sc := entry(d.ManagedFields, "kubectl", metav1.ManagedFieldsOperationUpdate, "scale")
	if *d.Spec.Replicas != 5 || sc == nil || sc.APIVersion != "apps/v1" || !owns(sc, "f:spec.f:replicas") {
		t.Fatalf("scale: replicas %d, %+v", *d.Spec.Replicas, d.ManagedFields)
	}
	if owns(entry(d.ManagedFields, "kubectl", metav1.ManagedFieldsOperationApply, ""), "f:spec.f:replicas") {
		t.Errorf("the applier should have lost replicas to the scale: %+v", d.ManagedFields)
	}
	// Applying another replica count now conflicts with the scaler.
	_, err = applyDeployment(ctx, s.client, deploymentConfig(3), "kubectl", false)
	if !apierrors.IsConflict(err) || err.(apierrors.APIStatus).Status().Message !=
		`Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas` {
		t.Errorf("apply after scale: %v", err)
	}

	// Apply to /scale itself.
	scale, err := s.client.AppsV1().Deployments("default").Patch(ctx, "web", types.ApplyPatchType,
		[]byte(`{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web"},"spec":{"replicas":6}}`),
		metav1.PatchOptions{FieldManager: "hpa", Force: ptr.To(true)}, "scale")
	if err != nil {
		t.Fatal(err)
	}
	_ = scale
	d, _ = s.client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if e := entry(d.ManagedFields, "hpa", metav1.ManagedFieldsOperationApply, "scale"); *d.Spec.Replicas != 6 || !owns(e, "f:spec.f:replicas") ||
		entry(d.ManagedFields, "kubectl", metav1.ManagedFieldsOperationUpdate, "scale") != nil {
		t.Errorf("apply to scale: replicas %d %+v", *d.Spec.Replicas, d.ManagedFields)
	}
}

// Creates of one template (remembered by content) and of another record
// the fields each has.
func TestCreatesRecordTheFieldsOfTheirOwnContent(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	var fields []string
	for i, labels := range []map[string]string{{"app": "web"}, {"app": "web"}, {"app": "web", "extra": "x"}} {
		p := pod(fmt.Sprintf("p%d", i))
		p.Labels = labels
		got, err := s.client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{FieldManager: "rs-controller"})
		if err != nil {
			t.Fatal(err)
		}
		e := entry(got.ManagedFields, "rs-controller", metav1.ManagedFieldsOperationUpdate, "")
		if e == nil || e.Time == nil || len(got.ManagedFields) != 1 {
			t.Fatalf("create %d: %+v", i, got.ManagedFields)
		}
		fields = append(fields, string(e.FieldsV1.Raw))
	}
	if fields[0] != fields[1] || fields[1] == fields[2] || !strings.Contains(fields[2], `"f:extra"`) {
		t.Errorf("fields of the creates: %q", fields)
	}
	other, err := s.client.CoreV1().Pods("default").Create(ctx, pod("q"), metav1.CreateOptions{FieldManager: "someone-else"})
	if err != nil || entry(other.ManagedFields, "someone-else", metav1.ManagedFieldsOperationUpdate, "") == nil {
		t.Errorf("another manager's create: %v %+v", err, other.ManagedFields)
	}
}

// Custom resources: applies merge with a deduced schema (every list atomic).
func TestApplyToCustomResources(t *testing.T) {
	s := startServer(t)
	createCRD(t, s, crdFromYAML(t, widgetCRD))
	ctx := context.Background()
	w := dynamic.NewForConfigOrDie(s.config).Resource(widgetsV1).Namespace("default")
	config := func(size int) []byte {
		return []byte(fmt.Sprintf(`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"size":%d,"tags":["a"]}}`, size))
	}
	created, err := w.Patch(ctx, "w1", types.ApplyPatchType, config(3), metav1.PatchOptions{FieldManager: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	e := entry(created.GetManagedFields(), "m1", metav1.ManagedFieldsOperationApply, "")
	if e == nil || e.APIVersion != "example.com/v1" || !owns(e, "f:spec.f:size") || !owns(e, "f:spec.f:tags") {
		t.Fatalf("apply entry: %+v", created.GetManagedFields())
	}
	if color, _, _ := unstructured.NestedString(created.Object, "spec", "color"); color != "red" {
		t.Errorf("schema defaults not applied to an applied object: %q", color)
	}
	// The CRD's schema types the apply: an undeclared field is upstream's
	// error; a field under x-kubernetes-preserve-unknown-fields is not.
	_, err = w.Patch(ctx, "w1", types.ApplyPatchType,
		[]byte(`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"size":3,"bogus":1}}`), metav1.PatchOptions{FieldManager: "m1"})
	if statusCause(err) != `failed to create typed patch object (/w1; example.com/v1, Kind=Widget): .spec.bogus: field not declared in schema` {
		t.Errorf("undeclared field: %v", err)
	}
	free, err := w.Patch(ctx, "w1", types.ApplyPatchType,
		[]byte(`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"size":3,"tags":["a"],"free":{"x":{"y":1}}}}`), metav1.PatchOptions{FieldManager: "m1"})
	if err != nil || !owns(entry(free.GetManagedFields(), "m1", metav1.ManagedFieldsOperationApply, ""), "f:spec.f:free.f:x.f:y") {
		t.Fatalf("preserved unknown fields: %v", err)
	}
	if _, err := w.Patch(ctx, "w1", types.MergePatchType, []byte(`{"spec":{"size":4}}`), metav1.PatchOptions{FieldManager: "m2"}); err != nil {
		t.Fatal(err)
	}
	_, err = w.Patch(ctx, "w1", types.ApplyPatchType, config(5), metav1.PatchOptions{FieldManager: "m1"})
	if !apierrors.IsConflict(err) || statusCause(err) != `Apply failed with 1 conflict: conflict with "m2" using example.com/v1: .spec.size` {
		t.Fatalf("want a conflict on .spec.size, got %v", err)
	}
	st, err := w.Patch(ctx, "w1", types.ApplyPatchType,
		[]byte(`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},"status":{"phase":"Ready"}}`),
		metav1.PatchOptions{FieldManager: "widget-controller"}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if e := entry(st.GetManagedFields(), "widget-controller", metav1.ManagedFieldsOperationApply, "status"); !owns(e, "f:status.f:phase") {
		t.Errorf("status apply: %+v", st.GetManagedFields())
	}
}
