package apiserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The workload kinds added for issue 3: apps/v1 statefulsets, daemonsets,
// controllerrevisions; batch/v1 jobs, cronjobs; autoscaling/v1+v2
// horizontalpodautoscalers; policy/v1 poddisruptionbudgets. One server is
// shared by the subtests (each uses its own names).
func TestWorkloadKinds(t *testing.T) {
	s := startServer(t)
	t.Run("Discovery", func(t *testing.T) { wlDiscovery(t, s) })
	t.Run("StatefulSet", func(t *testing.T) { wlStatefulSet(t, s) })
	t.Run("DaemonSet", func(t *testing.T) { wlDaemonSet(t, s) })
	t.Run("ControllerRevision", func(t *testing.T) { wlControllerRevision(t, s) })
	t.Run("Job", func(t *testing.T) { wlJob(t, s) })
	t.Run("CronJob", func(t *testing.T) { wlCronJob(t, s) })
	t.Run("HorizontalPodAutoscaler", func(t *testing.T) { wlHPA(t, s) })
	t.Run("PodDisruptionBudget", func(t *testing.T) { wlPDB(t, s) })
}

// wlInvalid checks that err is a 422 Invalid with a cause printed
// exactly as want ("field: message", as kubectl shows it).
func wlInvalid(t *testing.T, err error, want string) {
	t.Helper()
	var se *apierrors.StatusError
	if !errors.As(err, &se) || !apierrors.IsInvalid(err) {
		t.Fatalf("want Invalid %q, got %v", want, err)
	}
	var got []string
	for _, c := range se.ErrStatus.Details.Causes {
		s := c.Field + ": " + c.Message
		if s == want {
			return
		}
		got = append(got, s)
	}
	t.Fatalf("want cause %q, got %q", want, got)
}

// wlOnlyCause is wlInvalid when the error has exactly one cause.
func wlOnlyCause(t *testing.T, err error, want string) {
	t.Helper()
	wlInvalid(t, err, want)
	var se *apierrors.StatusError
	errors.As(err, &se)
	if n := len(se.ErrStatus.Details.Causes); n != 1 {
		t.Fatalf("want one cause, got %d: %v", n, err)
	}
}

// table gets a path as a meta.k8s.io/v1 Table, as kubectl get does.
func wlTable(t *testing.T, s *testServer, path string) *metav1.Table {
	t.Helper()
	raw, err := s.client.CoreV1().RESTClient().Get().AbsPath(path).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Do(context.Background()).Raw()
	if err != nil {
		t.Fatalf("table %s: %v", path, err)
	}
	var tbl metav1.Table
	if err := json.Unmarshal(raw, &tbl); err != nil {
		t.Fatal(err)
	}
	return &tbl
}

// wlColumns checks headers (upper-cased as kubectl prints them), with a
// trailing "*" marking a -o wide (priority 1) column.
func wlColumns(t *testing.T, tbl *metav1.Table, want string) {
	t.Helper()
	var got []string
	for _, c := range tbl.ColumnDefinitions {
		n := strings.ToUpper(c.Name)
		if c.Priority == 1 {
			n += "*"
		}
		got = append(got, n)
	}
	if strings.Join(got, "|") != want {
		t.Fatalf("columns:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
}

// wlRow checks the cells of the row named name; "<T>" matches any age.
func wlRow(t *testing.T, tbl *metav1.Table, name, want string) {
	t.Helper()
	for _, r := range tbl.Rows {
		if fmt.Sprint(r.Cells[0]) != name {
			continue
		}
		var got []string
		for _, c := range r.Cells {
			got = append(got, fmt.Sprint(c))
		}
		wantCells := strings.Split(want, "|")
		ok := len(got) == len(wantCells)
		for i := 0; ok && i < len(got); i++ {
			ok = wantCells[i] == got[i] || wantCells[i] == "<T>" && got[i] != "" && got[i] != "<unknown>"
		}
		if !ok {
			t.Fatalf("row %s:\n got %s\nwant %s", name, strings.Join(got, "|"), want)
		}
		return
	}
	t.Fatalf("no row %s in %d rows", name, len(tbl.Rows))
}

func wlTemplate(lbl map[string]string, c corev1.Container) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl}, Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
}

var wlBusybox = corev1.Container{Name: "db", Image: "localhost/wlBusybox:1.36", Command: []string{"sleep", "3600"}}

func wlDiscovery(t *testing.T, s *testServer) {
	want := map[string]string{
		"apps/v1/statefulsets":                    "sts|all|scale,status",
		"apps/v1/daemonsets":                      "ds|all|status",
		"apps/v1/controllerrevisions":             "||",
		"batch/v1/jobs":                           "|all|status",
		"batch/v1/cronjobs":                       "cj|all|status",
		"autoscaling/v2/horizontalpodautoscalers": "hpa|all|status",
		"autoscaling/v1/horizontalpodautoscalers": "hpa|all|status",
		"policy/v1/poddisruptionbudgets":          "pdb||status",
	}
	got := map[string]string{}
	for _, gv := range []string{"apps/v1", "batch/v1", "autoscaling/v2", "autoscaling/v1", "policy/v1"} {
		l, err := s.client.Discovery().ServerResourcesForGroupVersion(gv)
		if err != nil {
			t.Fatal(err)
		}
		subs := map[string][]string{}
		for _, r := range l.APIResources {
			if main, sub, ok := strings.Cut(r.Name, "/"); ok {
				subs[main] = append(subs[main], sub)
			}
		}
		for _, r := range l.APIResources {
			sort.Strings(subs[r.Name])
			if !strings.Contains(r.Name, "/") && r.Namespaced {
				got[gv+"/"+r.Name] = strings.Join(r.ShortNames, ",") + "|" + strings.Join(r.Categories, ",") + "|" + strings.Join(subs[r.Name], ",")
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	groups, err := s.client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups {
		if g.Name == "autoscaling" && (g.PreferredVersion.Version != "v2" || len(g.Versions) != 2) {
			t.Errorf("autoscaling: preferred %s, versions %v; want v2 of [v2 v1]", g.PreferredVersion.Version, g.Versions)
		}
	}
}

func wlStatefulSet(t *testing.T, s *testServer) {
	ctx := context.Background()
	api := s.client.AppsV1().StatefulSets("default")
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			ServiceName: "db",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template:    wlTemplate(map[string]string{"app": "db"}, wlBusybox),
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			}},
		},
	}
	sts.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	got, err := api.Create(ctx, sts, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sp := got.Spec
	ru := sp.UpdateStrategy.RollingUpdate
	retention, _ := json.Marshal(sp.PersistentVolumeClaimRetentionPolicy)
	// What the parity scenario's jsonpath-sts printed upstream.
	if j := fmt.Sprintf("%s|%s|%d|%s", sp.PodManagementPolicy, sp.UpdateStrategy.Type, *sp.RevisionHistoryLimit, retention); j != `OrderedReady|RollingUpdate|10|{"whenDeleted":"Retain","whenScaled":"Retain"}` {
		t.Errorf("defaults: %s", j)
	}
	if *sp.Replicas != 1 || ru == nil || *ru.Partition != 0 || ru.MaxUnavailable.IntValue() != 1 || got.Generation != 1 {
		t.Errorf("defaults: replicas %v rollingUpdate %+v generation %d", sp.Replicas, ru, got.Generation)
	}
	if pvc := sp.VolumeClaimTemplates[0]; pvc.Status.Phase != corev1.ClaimPending || *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("claim template defaults: %+v", pvc)
	}
	if ps := sp.Template.Spec; ps.RestartPolicy != corev1.RestartPolicyAlways || ps.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("pod template defaults: %+v", ps)
	}

	bad := func(mut func(*appsv1.StatefulSet)) error {
		b := sts.DeepCopy()
		b.Name = "bad"
		mut(b)
		_, err := api.Create(ctx, b, metav1.CreateOptions{})
		return err
	}
	wlOnlyCause(t, bad(func(b *appsv1.StatefulSet) { b.Spec.Replicas = ptr.To(int32(-1)) }),
		"spec.replicas: Invalid value: -1: must be greater than or equal to 0")
	wlInvalid(t, bad(func(b *appsv1.StatefulSet) { b.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }),
		`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`)
	wlInvalid(t, bad(func(b *appsv1.StatefulSet) { b.Spec.PodManagementPolicy = "Sometimes" }),
		`spec.podManagementPolicy: Invalid value: "Sometimes": must be 'OrderedReady' or 'Parallel'`)
	wlInvalid(t, bad(func(b *appsv1.StatefulSet) { b.Spec.Selector.MatchLabels = map[string]string{"app": "other"} }),
		`spec.template.metadata.labels: Invalid value: {"app":"db"}: `+"`selector` does not match template `labels`")
	wlInvalid(t, bad(func(b *appsv1.StatefulSet) { b.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To(int64(5)) }),
		"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported")
	wlInvalid(t, bad(func(b *appsv1.StatefulSet) {
		b.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(1))}}
	}), `spec.updateStrategy.rollingUpdate: Invalid value: {"Partition":1,"MaxUnavailable":null}: only allowed for updateStrategy 'RollingUpdate'`)
	wlInvalid(t, bad(func(b *appsv1.StatefulSet) { b.Spec.VolumeClaimTemplates[0].Spec.AccessModes = nil }),
		"spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access mode is required")
	wlInvalid(t, bad(func(b *appsv1.StatefulSet) { b.Spec.Template.Spec.Containers[0].Image = "" }),
		"spec.template.spec.containers[0].image: Required value")
	if err := bad(func(b *appsv1.StatefulSet) { b.Name = "a.b" }); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.name: Invalid value: \"a.b\": ") {
		t.Errorf("a statefulset name is a DNS label: %v", err)
	}

	// Only some spec fields may change.
	upd := got.DeepCopy()
	upd.Spec.ServiceName = "other"
	_, err = api.Update(ctx, upd, metav1.UpdateOptions{})
	wlOnlyCause(t, err, "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")

	// kubectl scale goes through /scale.
	sc, err := api.GetScale(ctx, "db", metav1.GetOptions{})
	if err != nil || sc.Spec.Replicas != 1 || sc.Status.Selector != "app=db" {
		t.Fatalf("get scale: %v %+v", err, sc)
	}
	sc.Spec.Replicas = 3
	if _, err := api.UpdateScale(ctx, "db", sc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ = api.Get(ctx, "db", metav1.GetOptions{})
	if *got.Spec.Replicas != 3 || got.Generation != 2 {
		t.Fatalf("after scale: replicas %d generation %d", *got.Spec.Replicas, got.Generation)
	}
	got.Status.Replicas, got.Status.ReadyReplicas = 3, 2
	if _, err := api.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	tbl := wlTable(t, s, "/apis/apps/v1/namespaces/default/statefulsets")
	wlColumns(t, tbl, "NAME|READY|AGE|CONTAINERS*|IMAGES*")
	wlRow(t, tbl, "db", "db|2/3|<T>|db|localhost/wlBusybox:1.36")
}

func wlDaemonSet(t *testing.T, s *testServer) {
	ctx := context.Background()
	api := s.client.AppsV1().DaemonSets("default")
	agent := wlBusybox
	agent.Name = "agent"
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: wlTemplate(map[string]string{"app": "agent"}, agent),
		},
	}
	got, err := api.Create(ctx, ds, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ru := got.Spec.UpdateStrategy.RollingUpdate
	if got.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru.MaxUnavailable.IntValue() != 1 ||
		ru.MaxSurge.IntValue() != 0 || *got.Spec.RevisionHistoryLimit != 10 || got.Generation != 1 {
		t.Errorf("defaults: %+v generation %d", got.Spec, got.Generation)
	}
	// describe-ds shows this annotation upstream.
	if g := got.Annotations[appsv1.DeprecatedTemplateGeneration]; g != "1" {
		t.Errorf("template generation annotation %q, want 1", g)
	}

	// A template change counts a template generation; a label change does not.
	got.Spec.Template.Spec.Containers[0].Image = "localhost/wlBusybox:1.37"
	got.Annotations[appsv1.DeprecatedTemplateGeneration] = "7" // the server's, not the client's
	got, err = api.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil || got.Annotations[appsv1.DeprecatedTemplateGeneration] != "2" || got.Generation != 2 {
		t.Fatalf("template update: %v annotations %v generation %d", err, got.Annotations, got.Generation)
	}
	got.Labels = map[string]string{"tier": "node"}
	got, err = api.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil || got.Annotations[appsv1.DeprecatedTemplateGeneration] != "2" || got.Generation != 2 {
		t.Fatalf("label update: %v annotations %v generation %d", err, got.Annotations, got.Generation)
	}
	upd := got.DeepCopy()
	upd.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
	upd.Spec.Template.Labels = map[string]string{"app": "other"}
	_, err = api.Update(ctx, upd, metav1.UpdateOptions{})
	wlOnlyCause(t, err, `spec.selector: Invalid value: {"matchLabels":{"app":"other"}}: field is immutable`)

	bad := func(mut func(*appsv1.DaemonSet)) error {
		b := ds.DeepCopy()
		b.Name = "bad"
		mut(b)
		_, err := api.Create(ctx, b, metav1.CreateOptions{})
		return err
	}
	wlOnlyCause(t, bad(func(b *appsv1.DaemonSet) { b.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }),
		`spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`)
	wlOnlyCause(t, bad(func(b *appsv1.DaemonSet) {
		b.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(1))}
	}), "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero")
	wlOnlyCause(t, bad(func(b *appsv1.DaemonSet) {
		b.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(0))}
	}), "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0")
	wlOnlyCause(t, bad(func(b *appsv1.DaemonSet) { b.Spec.UpdateStrategy.Type = "Sometimes" }),
		`spec.updateStrategy: Unsupported value: {"Type":"Sometimes","RollingUpdate":null}: supported values: "RollingUpdate", "OnDelete"`)
	wlInvalid(t, bad(func(b *appsv1.DaemonSet) { b.Spec.Selector = &metav1.LabelSelector{} }),
		"spec.selector: Invalid value: {}: empty selector is invalid for daemonset")

	got.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, NumberReady: 1, UpdatedNumberScheduled: 1, NumberAvailable: 1}
	if _, err := api.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	tbl := wlTable(t, s, "/apis/apps/v1/namespaces/default/daemonsets")
	wlColumns(t, tbl, "NAME|DESIRED|CURRENT|READY|UP-TO-DATE|AVAILABLE|NODE SELECTOR|AGE|CONTAINERS*|IMAGES*|SELECTOR*")
	wlRow(t, tbl, "agent", "agent|1|1|1|1|1|<none>|<T>|agent|localhost/wlBusybox:1.37|app=agent")
}

func wlControllerRevision(t *testing.T, s *testServer) {
	ctx := context.Background()
	api := s.client.AppsV1().ControllerRevisions("default")
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: "db-5d8f", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", UID: "1234", Controller: ptr.To(true)}}},
		Data:     runtime.RawExtension{Raw: []byte(`{"spec":{"template":{}}}`)},
		Revision: 1,
	}
	got, err := api.Create(ctx, cr, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got.Data = runtime.RawExtension{Raw: []byte(`{"spec":{}}`)}
	_, err = api.Update(ctx, got, metav1.UpdateOptions{})
	wlOnlyCause(t, err, `data: Invalid value: {"spec":{}}: field is immutable`)
	_, err = api.Create(ctx, &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "empty"}, Revision: -1}, metav1.CreateOptions{})
	wlInvalid(t, err, "data: Required value: data is mandatory")
	wlInvalid(t, err, "revision: Invalid value: -1: must be greater than or equal to 0")

	tbl := wlTable(t, s, "/apis/apps/v1/namespaces/default/controllerrevisions")
	wlColumns(t, tbl, "NAME|CONTROLLER|REVISION|AGE")
	wlRow(t, tbl, "db-5d8f", "db-5d8f|statefulset.apps/db|1|<T>")
}

func wlJobTemplate(restart corev1.RestartPolicy) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: restart,
		Containers: []corev1.Container{{Name: "c", Image: "localhost/wlBusybox:1.36", Command: []string{"sh", "-c", "echo done"}}}}}
}

func wlJob(t *testing.T, s *testServer) {
	ctx := context.Background()
	api := s.client.BatchV1().Jobs("default")
	// The parity scenario's job: no selector, no labels.
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "once"},
		Spec: batchv1.JobSpec{Completions: ptr.To(int32(2)), Template: wlJobTemplate(corev1.RestartPolicyNever)}}
	got, err := api.Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	uid := string(got.UID)
	sp := got.Spec
	// What jsonpath-job printed upstream (without the status part).
	if j := fmt.Sprintf("%d|%d|%s|%v", *sp.BackoffLimit, *sp.Parallelism, *sp.CompletionMode, *sp.Suspend); j != "6|1|NonIndexed|false" {
		t.Errorf("defaults: %s", j)
	}
	if *sp.PodReplacementPolicy != batchv1.TerminatingOrFailed || *sp.ManualSelector || got.Generation != 1 {
		t.Errorf("defaults: %+v generation %d", sp, got.Generation)
	}
	if sel := metav1.FormatLabelSelector(sp.Selector); sel != "batch.kubernetes.io/controller-uid="+uid {
		t.Errorf("generated selector %s", sel)
	}
	wantLabels := fmt.Sprintf("map[batch.kubernetes.io/controller-uid:%s batch.kubernetes.io/job-name:once controller-uid:%s job-name:once]", uid, uid)
	if fmt.Sprint(sp.Template.Labels) != wantLabels || fmt.Sprint(got.Labels) != wantLabels {
		t.Errorf("labels: template %v job %v", sp.Template.Labels, got.Labels)
	}

	bad := func(mut func(*batchv1.Job)) error {
		b := job.DeepCopy()
		b.Name = "bad"
		mut(b)
		_, err := api.Create(ctx, b, metav1.CreateOptions{})
		return err
	}
	// err-job-restart: upstream reports this alone.
	wlOnlyCause(t, bad(func(b *batchv1.Job) { b.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways }),
		`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`)
	wlOnlyCause(t, bad(func(b *batchv1.Job) { b.Spec.BackoffLimit = ptr.To(int32(-1)) }),
		"spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0")
	wlOnlyCause(t, bad(func(b *batchv1.Job) { b.Spec.CompletionMode = ptr.To(batchv1.CompletionMode("Sometimes")) }),
		`spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"`)
	wlOnlyCause(t, bad(func(b *batchv1.Job) {
		b.Spec.CompletionMode, b.Spec.Completions, b.Spec.Parallelism = ptr.To(batchv1.IndexedCompletion), nil, ptr.To(int32(2))
	}), "spec.completions: Required value: when completion mode is Indexed")
	wlOnlyCause(t, bad(func(b *batchv1.Job) {
		b.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}}}}}
		b.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	}), `spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`)
	// A selector of one's own needs manualSelector.
	own := func(b *batchv1.Job) {
		b.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
		b.Spec.Template.Labels = map[string]string{"app": "x"}
	}
	if err := bad(own); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "`selector` not auto-generated") {
		t.Errorf("own selector without manualSelector: %v", err)
	}
	manual, err := api.Create(ctx, func() *batchv1.Job {
		b := job.DeepCopy()
		b.Name = "manual"
		own(b)
		b.Spec.ManualSelector = ptr.To(true)
		return b
	}(), metav1.CreateOptions{})
	if err != nil || len(manual.Spec.Template.Labels) != 1 || fmt.Sprint(manual.Spec.Selector.MatchLabels) != "map[app:x]" {
		t.Fatalf("manual selector: %v %+v", err, manual)
	}

	// What may not change.
	upd := got.DeepCopy()
	upd.Spec.Completions = ptr.To(int32(3))
	_, err = api.Update(ctx, upd, metav1.UpdateOptions{})
	wlOnlyCause(t, err, "spec.completions: Invalid value: 3: field is immutable")
	upd = got.DeepCopy()
	upd.Spec.Template.Spec.Containers[0].Image = "other"
	if _, err = api.Update(ctx, upd, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.template: Invalid value: ") ||
		!strings.Contains(err.Error(), "field is immutable") {
		t.Errorf("template change: %v", err)
	}

	// status.successful is a field selector upstream supports.
	list, err := api.List(ctx, metav1.ListOptions{FieldSelector: "status.successful=0"})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("status.successful=0: %v %d", err, len(list.Items))
	}
	start := metav1.NewTime(time.Now().Add(-90 * time.Second))
	done := metav1.NewTime(start.Add(42 * time.Second))
	got.Status = batchv1.JobStatus{Succeeded: 2, StartTime: &start, CompletionTime: &done, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue}, {Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
	if _, err := api.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err = api.List(ctx, metav1.ListOptions{FieldSelector: "status.successful=2"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "once" {
		t.Fatalf("status.successful=2: %v %+v", err, list.Items)
	}
	if _, err := api.List(ctx, metav1.ListOptions{FieldSelector: "spec.parallelism=1"}); !apierrors.IsBadRequest(err) {
		t.Errorf("unsupported field selector: want 400, got %v", err)
	}

	tbl := wlTable(t, s, "/apis/batch/v1/namespaces/default/jobs")
	wlColumns(t, tbl, "NAME|STATUS|COMPLETIONS|DURATION|AGE|CONTAINERS*|IMAGES*|SELECTOR*")
	wlRow(t, tbl, "once", "once|Complete|2/2|42s|<T>|c|localhost/wlBusybox:1.36|batch.kubernetes.io/controller-uid="+uid)
	wlRow(t, tbl, "manual", "manual|Running|0/2||<T>|c|localhost/wlBusybox:1.36|app=x")
}

func wlCronJob(t *testing.T, s *testServer) {
	ctx := context.Background()
	api := s.client.BatchV1().CronJobs("default")
	// The parity scenario's suspended cronjob.
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "tick"}, Spec: batchv1.CronJobSpec{
		Schedule: "*/5 * * * *", Suspend: ptr.To(true),
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: wlJobTemplate(corev1.RestartPolicyOnFailure)}},
	}}
	got, err := api.Create(ctx, cj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sp := got.Spec; sp.ConcurrencyPolicy != batchv1.AllowConcurrent || *sp.SuccessfulJobsHistoryLimit != 3 || *sp.FailedJobsHistoryLimit != 1 ||
		!*sp.Suspend || got.Generation != 1 || sp.JobTemplate.Spec.BackoffLimit != nil || sp.JobTemplate.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("defaults: %+v generation %d", sp, got.Generation)
	}
	plain, err := api.Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "plain"}, Spec: batchv1.CronJobSpec{
		Schedule: "@hourly", TimeZone: ptr.To("Europe/Paris"), JobTemplate: cj.Spec.JobTemplate}}, metav1.CreateOptions{})
	if err != nil || *plain.Spec.Suspend {
		t.Fatalf("descriptor schedule with a time zone: %v", err)
	}

	bad := func(mut func(*batchv1.CronJob)) error {
		b := cj.DeepCopy()
		b.Name = "bad"
		mut(b)
		_, err := api.Create(ctx, b, metav1.CreateOptions{})
		return err
	}
	// err-cron-schedule, exactly as upstream.
	wlOnlyCause(t, bad(func(b *batchv1.CronJob) { b.Spec.Schedule = "not a schedule" }),
		`spec.schedule: Invalid value: "not a schedule": expected exactly 5 fields, found 3: [not a schedule]`)
	wlOnlyCause(t, bad(func(b *batchv1.CronJob) { b.Spec.Schedule = "61 * * * *" }),
		`spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61`)
	wlOnlyCause(t, bad(func(b *batchv1.CronJob) { b.Spec.Schedule = "TZ=UTC 0 * * * *" }),
		`spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`)
	wlOnlyCause(t, bad(func(b *batchv1.CronJob) { b.Spec.TimeZone = ptr.To("Mars/Olympus_Mons") }),
		`spec.timeZone: Invalid value: "Mars/Olympus_Mons": unknown time zone Mars/Olympus_Mons`)
	wlOnlyCause(t, bad(func(b *batchv1.CronJob) { b.Spec.ConcurrencyPolicy = "Sometimes" }),
		`spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"`)
	wlOnlyCause(t, bad(func(b *batchv1.CronJob) {
		b.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
	}),
		`spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`)
	wlOnlyCause(t, bad(func(b *batchv1.CronJob) {
		b.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
	}), `spec.jobTemplate.spec.selector: Invalid value: {"matchLabels":{"a":"b"}}: `+"`selector` will be auto-generated")
	wlOnlyCause(t, bad(func(b *batchv1.CronJob) { b.Name = strings.Repeat("x", 53) }),
		fmt.Sprintf(`metadata.name: Invalid value: "%s": must be no more than 52 characters`, strings.Repeat("x", 53)))

	tbl := wlTable(t, s, "/apis/batch/v1/namespaces/default/cronjobs")
	wlColumns(t, tbl, "NAME|SCHEDULE|TIMEZONE|SUSPEND|ACTIVE|LAST SCHEDULE|AGE|CONTAINERS*|IMAGES*|SELECTOR*")
	// get-cronjob-wide upstream: tick  */5 * * * *  <none>  True  0  <none>  <T>  c  localhost/wlBusybox:1.36  <none>
	wlRow(t, tbl, "tick", "tick|*/5 * * * *|<none>|True|0|<none>|<T>|c|localhost/wlBusybox:1.36|<none>")
	wlRow(t, tbl, "plain", "plain|@hourly|Europe/Paris|False|0|<none>|<T>|c|localhost/wlBusybox:1.36|<none>")
}

func wlHPA(t *testing.T, s *testServer) {
	ctx := context.Background()
	v2api := s.client.AutoscalingV2().HorizontalPodAutoscalers("default")
	v1api := s.client.AutoscalingV1().HorizontalPodAutoscalers("default")
	ref := autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}

	// v2 defaults: one replica, 80% CPU, a behavior's unset rules.
	h, err := v2api.Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref, MaxReplicas: 3,
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To(int32(300))}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := h.Spec.Metrics; *h.Spec.MinReplicas != 1 || len(m) != 1 || m[0].Resource.Name != corev1.ResourceCPU || *m[0].Resource.Target.AverageUtilization != 80 {
		t.Errorf("defaults: %+v", h.Spec)
	}
	up, down := h.Spec.Behavior.ScaleUp, h.Spec.Behavior.ScaleDown
	if b, _ := json.Marshal(h.Spec.Behavior); string(b) != `{"scaleUp":{"stabilizationWindowSeconds":0,"selectPolicy":"Max","policies":[{"type":"Pods","value":4,"periodSeconds":15},{"type":"Percent","value":100,"periodSeconds":15}]},"scaleDown":{"stabilizationWindowSeconds":300,"selectPolicy":"Max","policies":[{"type":"Percent","value":100,"periodSeconds":15}]}}` {
		t.Errorf("behavior defaults: %s (%v %v)", b, up, down)
	}

	// The same object through v1: CPU target, the rest in annotations.
	v1h, err := v1api.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v1h.APIVersion != "" && v1h.APIVersion != "autoscaling/v1" || *v1h.Spec.TargetCPUUtilizationPercentage != 80 || v1h.Spec.MaxReplicas != 3 {
		t.Errorf("v1 view: %+v", v1h)
	}
	if b := v1h.Annotations["autoscaling.alpha.kubernetes.io/behavior"]; !strings.HasPrefix(b, `{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":4,"PeriodSeconds":15}`) {
		t.Errorf("behavior annotation: %s", b)
	}
	if _, ok := v1h.Annotations["autoscaling.alpha.kubernetes.io/metrics"]; ok {
		t.Errorf("a CPU-only autoscaler needs no metrics annotation: %v", v1h.Annotations)
	}

	// A v2-only metric survives a v1 read-modify-write.
	h.Spec.Metrics = append(h.Spec.Metrics, autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory,
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("100Mi"))}}})
	if h, err = v2api.Update(ctx, h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.Status = autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 2,
		CurrentMetrics: []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
			Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To(int32(40)), AverageValue: ptr.To(resource.MustParse("40m"))}}}},
		Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: "ReadyForNewScale"}}}
	if h, err = v2api.UpdateStatus(ctx, h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	v1h, err = v1api.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *v1h.Status.CurrentCPUUtilizationPercentage != 40 || v1h.Status.CurrentReplicas != 2 {
		t.Errorf("v1 status: %+v", v1h.Status)
	}
	for _, k := range []string{"metrics", "current-metrics", "conditions", "behavior"} {
		if _, ok := v1h.Annotations["autoscaling.alpha.kubernetes.io/"+k]; !ok {
			t.Errorf("v1 view lacks the %s annotation: %v", k, v1h.Annotations)
		}
	}
	v1h.Spec.MaxReplicas = 5
	delete(v1h.Annotations, "autoscaling.alpha.kubernetes.io/conditions") // the status is the server's
	if _, err := v1api.Update(ctx, v1h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err = v2api.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Spec.MaxReplicas != 5 || len(h.Spec.Metrics) != 2 || h.Spec.Metrics[0].Resource.Name != corev1.ResourceMemory ||
		h.Spec.Behavior == nil || *h.Spec.Behavior.ScaleDown.StabilizationWindowSeconds != 300 || len(h.Status.Conditions) != 1 ||
		h.Status.CurrentMetrics[0].Resource.Current.AverageValue.String() != "40m" {
		t.Errorf("after a v1 round trip: spec %+v status %+v", h.Spec, h.Status)
	}
	for k := range h.Annotations {
		if strings.HasPrefix(k, "autoscaling.alpha.kubernetes.io/") {
			t.Errorf("round-trip annotation %s stored", k)
		}
	}
	// Targets pair each metric with the status at the same index, as the
	// controller writes them.
	h.Status.CurrentMetrics = []autoscalingv2.MetricStatus{
		{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceMemory,
			Current: autoscalingv2.MetricValueStatus{AverageValue: ptr.To(resource.MustParse("50Mi"))}}},
		{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU,
			Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To(int32(40))}}},
	}
	if _, err = v2api.UpdateStatus(ctx, h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Created through v1.
	v1new, err := v1api.Create(ctx, &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "api"},
			MaxReplicas: 4, TargetCPUUtilizationPercentage: ptr.To(int32(50))}}, metav1.CreateOptions{})
	if err != nil || *v1new.Spec.MinReplicas != 1 || *v1new.Spec.TargetCPUUtilizationPercentage != 50 || len(v1new.Annotations) != 0 {
		t.Fatalf("v1 create: %v %+v", err, v1new)
	}
	h2, err := v2api.Get(ctx, "api", metav1.GetOptions{})
	if err != nil || len(h2.Spec.Metrics) != 1 || *h2.Spec.Metrics[0].Resource.Target.AverageUtilization != 50 {
		t.Fatalf("v1-created object through v2: %v %+v", err, h2)
	}
	v1list, err := v1api.List(ctx, metav1.ListOptions{})
	if err != nil || len(v1list.Items) != 2 {
		t.Fatalf("v1 list: %v %d", err, len(v1list.Items))
	}

	_, err = v2api.Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref, MinReplicas: ptr.To(int32(5)), MaxReplicas: 2}}, metav1.CreateOptions{})
	wlOnlyCause(t, err, "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`")
	_, err = v2api.Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 0}}, metav1.CreateOptions{})
	wlInvalid(t, err, "spec.maxReplicas: Invalid value: 0: must be greater than 0")
	wlInvalid(t, err, "spec.scaleTargetRef.kind: Required value")
	_, err = v2api.Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref, MaxReplicas: 2,
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{{Type: "Pods", Value: 0, PeriodSeconds: 15}}}}}}, metav1.CreateOptions{})
	wlOnlyCause(t, err, "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero")
	// A v1 object is validated as its v2 form, with v2's field paths.
	_, err = v1api.Create(ctx, &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "x"},
			MaxReplicas: 2, TargetCPUUtilizationPercentage: ptr.To(int32(0))}}, metav1.CreateOptions{})
	wlOnlyCause(t, err, "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0")

	for _, v := range []string{"v2", "v1"} {
		tbl := wlTable(t, s, "/apis/autoscaling/"+v+"/namespaces/default/horizontalpodautoscalers")
		wlColumns(t, tbl, "NAME|REFERENCE|TARGETS|MINPODS|MAXPODS|REPLICAS|AGE")
		wlRow(t, tbl, "web", "web|Deployment/web|memory: 50Mi/100Mi, cpu: 40%/80%|1|5|2|<T>")
		wlRow(t, tbl, "api", "api|Deployment/api|cpu: <unknown>/50%|1|4|0|<T>")
	}
}

func wlPDB(t *testing.T, s *testServer) {
	ctx := context.Background()
	api := s.client.PolicyV1().PodDisruptionBudgets("default")
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}
	got, err := api.Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)), Selector: sel}}, metav1.CreateOptions{})
	if err != nil || got.Generation != 1 {
		t.Fatalf("create: %v %+v", err, got)
	}
	got.Spec.MaxUnavailable = ptr.To(intstr.FromString("25%"))
	if got, err = api.Update(ctx, got, metav1.UpdateOptions{}); err != nil || got.Generation != 2 {
		t.Fatalf("update: %v generation %d", err, got.Generation)
	}
	got.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(1))
	if got, err = api.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got.Status = policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1, CurrentHealthy: 3, DesiredHealthy: 2, ExpectedPods: 3}
	if _, err := api.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	_, err = api.Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(1)), Selector: sel}}, metav1.CreateOptions{})
	wlOnlyCause(t, err, `spec: Invalid value: {"MinAvailable":1,"Selector":{"matchLabels":{"app":"api"}},"MaxUnavailable":1,"UnhealthyPodEvictionPolicy":null}: minAvailable and maxUnavailable cannot be both set`)
	_, err = api.Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromString("150%")), Selector: sel}}, metav1.CreateOptions{})
	wlOnlyCause(t, err, `spec.minAvailable: Invalid value: "150%": must not be greater than 100%`)
	_, err = api.Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(-1)), Selector: sel}}, metav1.CreateOptions{})
	wlOnlyCause(t, err, "spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0")

	tbl := wlTable(t, s, "/apis/policy/v1/namespaces/default/poddisruptionbudgets")
	// get-pdb upstream: api  N/A  1  1  <T>
	wlColumns(t, tbl, "NAME|MIN AVAILABLE|MAX UNAVAILABLE|ALLOWED DISRUPTIONS|AGE")
	wlRow(t, tbl, "api", "api|N/A|1|1|<T>")
}
