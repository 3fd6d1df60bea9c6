package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry/scheduling"
)

// table fetches path as a server-side meta.k8s.io/v1 Table, as kubectl get does.
func table(t *testing.T, s *testServer, path string) *metav1.Table {
	t.Helper()
	raw, err := s.client.CoreV1().RESTClient().Get().AbsPath(path).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("table %s: %v", path, err)
	}
	var tbl metav1.Table
	if err := json.Unmarshal(raw, &tbl); err != nil {
		t.Fatalf("table %s: %v", path, err)
	}
	return &tbl
}

// wantColumns checks the column names; wide names the -o wide ones.
func wantColumns(t *testing.T, tbl *metav1.Table, names ...string) {
	t.Helper()
	var got []string
	for _, c := range tbl.ColumnDefinitions {
		n := c.Name
		if c.Priority > 0 {
			n += "(wide)"
		}
		got = append(got, n)
	}
	if strings.Join(got, "|") != strings.Join(names, "|") {
		t.Errorf("columns:\n got %v\nwant %v", got, names)
	}
}

// wantRow checks the cells of row i; "*" matches anything (an age).
func wantRow(t *testing.T, tbl *metav1.Table, i int, cells ...string) {
	t.Helper()
	if len(tbl.Rows) <= i {
		t.Fatalf("table has %d rows, want row %d", len(tbl.Rows), i)
	}
	got := tbl.Rows[i].Cells
	if len(got) != len(cells) {
		t.Fatalf("row %d: got %d cells %v, want %v", i, len(got), got, cells)
	}
	for j, want := range cells {
		if g := fmt.Sprint(got[j]); want != "*" && g != want {
			t.Errorf("row %d cell %d (%s): got %q, want %q", i, j, tbl.ColumnDefinitions[j].Name, g, want)
		}
	}
}

// wantInvalid checks a 422 whose message carries each of msgs, exactly as
// kubectl would print them.
func wantInvalid(t *testing.T, err error, msgs ...string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want Invalid, got %v", err)
	}
	for _, m := range msgs {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q\n does not contain %q", err.Error(), m)
		}
	}
}

func podTemplate(labels map[string]string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod("").Spec}
}

func TestReplicationControllers(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	rcs := s.client.CoreV1().ReplicationControllers("default")
	rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ReplicationControllerSpec{Template: podTemplate(map[string]string{"app": "web"})}}
	got, err := rcs.Create(ctx, rc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Selector["app"] != "web" || got.Labels["app"] != "web" || *got.Spec.Replicas != 1 || got.Generation != 1 ||
		got.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || got.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("defaults: %+v %+v", got.ObjectMeta, got.Spec)
	}

	for _, tc := range []struct {
		name   string
		change func(*corev1.ReplicationController)
		msgs   []string
	}{
		{"negative replicas", func(r *corev1.ReplicationController) { r.Spec.Replicas = ptr.To(int32(-1)) },
			[]string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"}},
		{"no template", func(r *corev1.ReplicationController) { r.Spec.Template = nil },
			[]string{"spec.selector: Required value", "spec.template: Required value"}},
		{"selector mismatch", func(r *corev1.ReplicationController) { r.Spec.Selector = map[string]string{"app": "other"} },
			[]string{"spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"}},
		{"restart policy", func(r *corev1.ReplicationController) { r.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`}},
		{"active deadline", func(r *corev1.ReplicationController) { r.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To(int64(5)) },
			[]string{"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicationController is not Supported"}},
		{"min ready", func(r *corev1.ReplicationController) { r.Spec.MinReadySeconds = -1 },
			[]string{"spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := rc.DeepCopy()
			bad.Name = "bad"
			tc.change(bad)
			_, err := rcs.Create(ctx, bad, metav1.CreateOptions{})
			wantInvalid(t, err, tc.msgs...)
		})
	}

	sc, err := rcs.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil || sc.Spec.Replicas != 1 || sc.Status.Selector != "app=web" {
		t.Fatalf("get scale: %v %+v", err, sc)
	}
	sc.Spec.Replicas = 3
	if _, err := rcs.UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ = rcs.Get(ctx, "web", metav1.GetOptions{})
	if *got.Spec.Replicas != 3 || got.Generation != 2 {
		t.Fatalf("after scale: replicas %d generation %d", *got.Spec.Replicas, got.Generation)
	}
	got.Status.Replicas, got.Status.ReadyReplicas = 3, 2
	if _, err := rcs.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ = rcs.Get(ctx, "web", metav1.GetOptions{})
	got.Status.ReadyReplicas = 4
	_, err = rcs.UpdateStatus(ctx, got, metav1.UpdateOptions{})
	wantInvalid(t, err, "status.readyReplicas: Invalid value: 4: cannot be greater than status.replicas")

	l, err := rcs.List(ctx, metav1.ListOptions{FieldSelector: "status.replicas=3"})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("field selector status.replicas: %v %v", err, l)
	}

	tbl := table(t, s, "/api/v1/namespaces/default/replicationcontrollers")
	wantColumns(t, tbl, "Name", "Desired", "Current", "Ready", "Age", "Containers(wide)", "Images(wide)", "Selector(wide)")
	wantRow(t, tbl, 0, "web", "3", "3", "2", "*", "c", "localhost/echo:1", "app=web")
}

func TestPersistentVolumesAndClaims(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	pvs := s.client.CoreV1().PersistentVolumes()
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data/pv1"}},
	}}
	got, err := pvs.Create(ctx, pv, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain || *got.Spec.VolumeMode != corev1.PersistentVolumeFilesystem ||
		got.Status.Phase != corev1.VolumePending || got.Status.LastPhaseTransitionTime == nil || got.Spec.HostPath.Type == nil || got.Namespace != "" {
		t.Errorf("pv defaults: %+v %+v", got.Spec, got.Status)
	}
	for _, tc := range []struct {
		name   string
		change func(*corev1.PersistentVolume)
		msgs   []string
	}{
		{"no access modes", func(p *corev1.PersistentVolume) { p.Spec.AccessModes = nil }, []string{"spec.accessModes: Required value"}},
		{"bad access mode", func(p *corev1.PersistentVolume) { p.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{"Some"} },
			[]string{`spec.accessModes: Unsupported value: "Some": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"`}},
		{"no capacity", func(p *corev1.PersistentVolume) { p.Spec.Capacity = nil },
			[]string{"spec.capacity: Required value", `spec.capacity: Unsupported value: null: supported values: "storage"`}},
		{"no source", func(p *corev1.PersistentVolume) { p.Spec.HostPath = nil }, []string{"spec: Required value: must specify a volume type"}},
		{"two sources", func(p *corev1.PersistentVolume) { p.Spec.NFS = &corev1.NFSVolumeSource{Server: "s", Path: "/x"} },
			[]string{"spec.nfs: Forbidden: may not specify more than 1 volume type"}},
		{"reclaim policy", func(p *corev1.PersistentVolume) { p.Spec.PersistentVolumeReclaimPolicy = "Keep" },
			[]string{`spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"`}},
		{"local without affinity", func(p *corev1.PersistentVolume) {
			p.Spec.HostPath, p.Spec.Local = nil, &corev1.LocalVolumeSource{Path: "/mnt"}
		}, []string{"spec.nodeAffinity: Required value: Local volume requires node affinity"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := pv.DeepCopy()
			bad.Name = "bad"
			tc.change(bad)
			_, err := pvs.Create(ctx, bad, metav1.CreateOptions{})
			wantInvalid(t, err, tc.msgs...)
		})
	}
	got.Spec.HostPath.Path = "/elsewhere"
	_, err = pvs.Update(ctx, got, metav1.UpdateOptions{})
	wantInvalid(t, err, "spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation")

	tbl := table(t, s, "/api/v1/persistentvolumes")
	wantColumns(t, tbl, "Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass",
		"VolumeAttributesClass", "Reason", "Age", "VolumeMode(wide)")
	wantRow(t, tbl, 0, "pv1", "1Gi", "RWO,ROX", "Retain", "Pending", "", "", "<unset>", "", "*", "Filesystem")

	pvcs := s.client.CoreV1().PersistentVolumeClaims("default")
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
	gotc, err := pvcs.Create(ctx, pvc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if gotc.Status.Phase != corev1.ClaimPending || *gotc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("pvc defaults: %+v %+v", gotc.Spec, gotc.Status)
	}
	for _, tc := range []struct {
		name   string
		change func(*corev1.PersistentVolumeClaim)
		msg    string
	}{
		{"no access modes", func(c *corev1.PersistentVolumeClaim) { c.Spec.AccessModes = nil },
			"spec.accessModes: Required value: at least 1 access mode is required"},
		{"no storage", func(c *corev1.PersistentVolumeClaim) { c.Spec.Resources.Requests = nil }, "spec.resources[storage]: Required value"},
		{"zero storage", func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("0")
		},
			`spec.resources[storage]: Invalid value: "0": must be greater than zero`},
		{"rwop with others", func(c *corev1.PersistentVolumeClaim) {
			c.Spec.AccessModes = append(c.Spec.AccessModes, corev1.ReadWriteOncePod)
		}, "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := pvc.DeepCopy()
			bad.Name = "bad"
			tc.change(bad)
			_, err := pvcs.Create(ctx, bad, metav1.CreateOptions{})
			wantInvalid(t, err, tc.msg)
		})
	}
	gotc.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
	_, err = pvcs.Update(ctx, gotc, metav1.UpdateOptions{})
	wantInvalid(t, err, "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims")

	tbl = table(t, s, "/api/v1/namespaces/default/persistentvolumeclaims")
	wantColumns(t, tbl, "Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass", "VolumeAttributesClass", "Age", "VolumeMode(wide)")
	wantRow(t, tbl, 0, "data", "Pending", "", "", "", "", "<unset>", "*", "Filesystem")
}

func TestResourceQuotasAndLimitRanges(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	quotas := s.client.CoreV1().ResourceQuotas("default")
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q"}, Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
		"pods": resource.MustParse("10"), "requests.cpu": resource.MustParse("1"), "limits.cpu": resource.MustParse("2")}}}
	got, err := quotas.Create(ctx, q, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		hard corev1.ResourceList
		msg  string
	}{
		{"unknown resource", corev1.ResourceList{"foo": resource.MustParse("1")}, `spec.hard[foo]: Invalid value: "foo": must be a standard resource for quota`},
		{"fractional count", corev1.ResourceList{"pods": resource.MustParse("1500m")}, `spec.hard[pods]: Invalid value: "1500m": must be an integer`},
		{"negative", corev1.ResourceList{"cpu": resource.MustParse("-1")}, `spec.hard[cpu]: Invalid value: "-1": must be greater than or equal to 0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := quotas.Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
				Spec: corev1.ResourceQuotaSpec{Hard: tc.hard}}, metav1.CreateOptions{})
			wantInvalid(t, err, tc.msg)
		})
	}
	_, err = quotas.Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: corev1.ResourceQuotaSpec{
		Hard: corev1.ResourceList{"cpu": resource.MustParse("1")}, Scopes: []corev1.ResourceQuotaScope{"BestEffort"}}}, metav1.CreateOptions{})
	wantInvalid(t, err, `spec.scopes: Invalid value: ["BestEffort"]: unsupported scope applied to resource`)

	got.Status.Hard = got.Spec.Hard
	got.Status.Used = corev1.ResourceList{"pods": resource.MustParse("1")}
	if _, err := quotas.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	tbl := table(t, s, "/api/v1/namespaces/default/resourcequotas")
	wantColumns(t, tbl, "Name", "Request", "Limit", "Age")
	wantRow(t, tbl, 0, "q", "pods: 1/10, requests.cpu: 0/1", "limits.cpu: 0/2", "*")

	limits := s.client.CoreV1().LimitRanges("default")
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "lr"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypeContainer,
		Max:  corev1.ResourceList{"cpu": resource.MustParse("1")},
		Min:  corev1.ResourceList{"memory": resource.MustParse("64Mi")},
	}}}}
	gotl, err := limits.Create(ctx, lr, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	it := gotl.Spec.Limits[0]
	if it.Default.Cpu().String() != "1" || it.DefaultRequest.Cpu().String() != "1" || it.DefaultRequest.Memory().String() != "64Mi" {
		t.Errorf("limit range defaults: %+v", it)
	}
	bad := lr.DeepCopy()
	bad.Name = "bad"
	bad.Spec.Limits[0].Min["cpu"] = resource.MustParse("2")
	_, err = limits.Create(ctx, bad, metav1.CreateOptions{})
	wantInvalid(t, err, `spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1`)
	bad = lr.DeepCopy()
	bad.Name = "bad"
	bad.Spec.Limits = append(bad.Spec.Limits, bad.Spec.Limits[0], corev1.LimitRangeItem{Type: "Bogus"})
	_, err = limits.Create(ctx, bad, metav1.CreateOptions{})
	wantInvalid(t, err, `spec.limits[1].type: Duplicate value: "Container"`,
		`spec.limits[2].type: Invalid value: "Bogus": must be a standard limit type or fully qualified`)

	tbl = table(t, s, "/api/v1/namespaces/default/limitranges")
	wantColumns(t, tbl, "Name", "Created At")
	wantRow(t, tbl, 0, "lr", gotl.CreationTimestamp.UTC().Format(time.RFC3339))
}

func TestPodTemplates(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	pts := s.client.CoreV1().PodTemplates("default")
	pt := &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: "pt"}, Template: *podTemplate(map[string]string{"app": "web", "tier": "fe"})}
	got, err := pts.Create(ctx, pt, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || got.Template.Spec.Containers[0].TerminationMessagePath == "" || got.Generation != 1 {
		t.Errorf("pod template defaults: %+v", got)
	}
	bad := pt.DeepCopy()
	bad.Name = "bad"
	bad.Template.Spec.Containers = nil
	_, err = pts.Create(ctx, bad, metav1.CreateOptions{})
	wantInvalid(t, err, "template.spec.containers: Required value")
	got.Template.Spec.Containers[0].Image = "localhost/echo:2"
	if got, err = pts.Update(ctx, got, metav1.UpdateOptions{}); err != nil || got.Generation != 2 {
		t.Fatalf("template change must bump generation: %v %d", err, got.Generation)
	}
	tbl := table(t, s, "/api/v1/namespaces/default/podtemplates")
	wantColumns(t, tbl, "Name", "Containers", "Images", "Pod Labels")
	wantRow(t, tbl, 0, "pt", "c", "localhost/echo:2", "app=web,tier=fe")
}

func TestNetworkingKinds(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	ings := s.client.NetworkingV1().Ingresses("default")
	// The parity scenario's Ingress.
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
		Host: "demo.example",
		IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
			Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "api", Port: networkingv1.ServiceBackendPort{Number: 80}}},
		}}}},
	}}}}
	got, err := ings.Create(ctx, ing, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tbl := table(t, s, "/apis/networking.k8s.io/v1/namespaces/default/ingresses")
	wantColumns(t, tbl, "Name", "Class", "Hosts", "Address", "Ports", "Age")
	wantRow(t, tbl, 0, "web", "<none>", "demo.example", "", "80", "*")

	for _, tc := range []struct {
		name   string
		change func(*networkingv1.Ingress)
		msg    string
	}{
		{"nothing to route", func(i *networkingv1.Ingress) { i.Spec.Rules = nil }, "spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"},
		{"no path type", func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].PathType = nil },
			"spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"},
		{"relative path", func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Path = "api" },
			`spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path`},
		{"ip host", func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "10.0.0.1" },
			`spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address`},
		{"no port", func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number = 0 },
			"spec.rules[0].http.paths[0].backend: Required value: port name or number is required"},
		{"class mismatch", func(i *networkingv1.Ingress) {
			i.Annotations = map[string]string{"kubernetes.io/ingress.class": "a"}
			i.Spec.IngressClassName = ptr.To("b")
		}, `annotations.kubernetes.io/ingress.class: Invalid value: "a": must match ` + "`ingressClassName`" + ` when both are specified`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := ing.DeepCopy()
			bad.Name = "bad"
			tc.change(bad)
			_, err := ings.Create(ctx, bad, metav1.CreateOptions{})
			wantInvalid(t, err, tc.msg)
		})
	}

	got.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.9"}, {Hostname: "lb.example"}}
	if _, err := ings.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ = ings.Get(ctx, "web", metav1.GetOptions{})
	got.Spec.IngressClassName = ptr.To("nginx")
	got.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"demo.example"}, SecretName: "tls"}}
	if got, err = ings.Update(ctx, got, metav1.UpdateOptions{}); err != nil || got.Generation != 2 {
		t.Fatalf("spec update: %v generation %d", err, got.Generation)
	}
	tbl = table(t, s, "/apis/networking.k8s.io/v1/namespaces/default/ingresses")
	wantRow(t, tbl, 0, "web", "nginx", "demo.example", "10.0.0.9,lb.example", "80, 443", "*")

	classes := s.client.NetworkingV1().IngressClasses()
	ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networkingv1.IngressClassSpec{
		Controller: "k8s.io/ingress-nginx",
		Parameters: &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("k8s.example.com"), Kind: "IngressParameters", Name: "external-lb"},
	}}
	gotic, err := classes.Create(ctx, ic, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(gotic.Spec.Parameters.Scope, "") != "Cluster" {
		t.Errorf("parameters scope default: %+v", gotic.Spec.Parameters)
	}
	_, err = classes.Create(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "bad"}}, metav1.CreateOptions{})
	wantInvalid(t, err, "spec.controller: Required value")
	_, err = classes.Create(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: networkingv1.IngressClassSpec{
		Controller: "x.io/c", Parameters: &networkingv1.IngressClassParametersReference{Kind: "K", Name: "n", Scope: ptr.To("Namespace")}}}, metav1.CreateOptions{})
	wantInvalid(t, err, "spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'")
	gotic.Spec.Controller = "example.com/other"
	_, err = classes.Update(ctx, gotic, metav1.UpdateOptions{})
	wantInvalid(t, err, `spec.controller: Invalid value: "example.com/other": field is immutable`)
	tbl = table(t, s, "/apis/networking.k8s.io/v1/ingressclasses")
	wantColumns(t, tbl, "Name", "Controller", "Parameters", "Age")
	wantRow(t, tbl, 0, "nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/external-lb", "*")

	nps := s.client.NetworkingV1().NetworkPolicies("default")
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "np"}, Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{}},
			From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}}}},
		Egress: []networkingv1.NetworkPolicyEgressRule{{}},
	}}
	gotnp, err := nps.Create(ctx, np, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gotnp.Spec.PolicyTypes) != "[Ingress Egress]" || ptr.Deref(gotnp.Spec.Ingress[0].Ports[0].Protocol, "") != corev1.ProtocolTCP || gotnp.Generation != 1 {
		t.Errorf("network policy defaults: %+v", gotnp.Spec)
	}
	for _, tc := range []struct {
		name   string
		change func(*networkingv1.NetworkPolicy)
		msg    string
	}{
		{"empty peer", func(n *networkingv1.NetworkPolicy) { n.Spec.Ingress[0].From[0].IPBlock = nil },
			"spec.ingress[0].from[0]: Required value: must specify a peer"},
		{"except outside cidr", func(n *networkingv1.NetworkPolicy) {
			n.Spec.Ingress[0].From[0].IPBlock.Except = []string{"192.168.0.0/16"}
		},
			"spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"192.168.0.0/16\": must be a strict subset of `cidr`"},
		{"end port before port", func(n *networkingv1.NetworkPolicy) {
			n.Spec.Ingress[0].Ports[0].Port = ptr.To(intstr.FromInt32(80))
			n.Spec.Ingress[0].Ports[0].EndPort = ptr.To(int32(70))
		}, "spec.ingress[0].ports[0].endPort: Invalid value: 70: must be greater than or equal to `port`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := np.DeepCopy()
			bad.Name = "bad"
			tc.change(bad)
			_, err := nps.Create(ctx, bad, metav1.CreateOptions{})
			wantInvalid(t, err, tc.msg)
		})
	}
	if _, err := nps.Create(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "all"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tbl = table(t, s, "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies")
	wantColumns(t, tbl, "Name", "Pod-Selector", "Age")
	wantRow(t, tbl, 0, "all", "<none>", "*")
	wantRow(t, tbl, 1, "np", "app=web", "*")
}

func TestStorageKinds(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	scs := s.client.StorageV1().StorageClasses()
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local",
		Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner: "kedge.io/local", Parameters: map[string]string{"dir": "/var/lib/kedge"}}
	got, err := scs.Create(ctx, sc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *got.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || *got.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Errorf("storage class defaults: %+v", got)
	}
	_, err = scs.Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "bad"}}, metav1.CreateOptions{})
	wantInvalid(t, err, "provisioner: Required value")
	_, err = scs.Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Provisioner: "p",
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingMode("Later"))}, metav1.CreateOptions{})
	wantInvalid(t, err, `volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"`)
	got.Parameters["dir"] = "/elsewhere"
	got.Provisioner = "kedge.io/other"
	_, err = scs.Update(ctx, got, metav1.UpdateOptions{})
	wantInvalid(t, err, "parameters: Forbidden: updates to parameters are forbidden.", "provisioner: Forbidden: updates to provisioner are forbidden.")
	tbl := table(t, s, "/apis/storage.k8s.io/v1/storageclasses")
	wantColumns(t, tbl, "Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age")
	wantRow(t, tbl, 0, "local (default)", "kedge.io/local", "Delete", "Immediate", "false", "*")

	drivers := s.client.StorageV1().CSIDrivers()
	d, err := drivers.Create(ctx, &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "local.csi.kedge.io"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !*d.Spec.AttachRequired || *d.Spec.PodInfoOnMount || *d.Spec.FSGroupPolicy != storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy ||
		fmt.Sprint(d.Spec.VolumeLifecycleModes) != "[Persistent]" || d.Spec.SELinuxMount == nil {
		t.Errorf("csi driver defaults: %+v", d.Spec)
	}
	_, err = drivers.Create(ctx, &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: storagev1.CSIDriverSpec{
		FSGroupPolicy: ptr.To(storagev1.FSGroupPolicy("Sometimes")), VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{"Forever"}}}, metav1.CreateOptions{})
	wantInvalid(t, err, `spec.fsGroupPolicy: Unsupported value: "Sometimes": supported values: "File", "None", "ReadWriteOnceWithFSType"`,
		`spec.volumeLifecycleModes: Unsupported value: "Forever": supported values: "Persistent", "Ephemeral"`)
	d.Spec.AttachRequired = ptr.To(false)
	_, err = drivers.Update(ctx, d, metav1.UpdateOptions{})
	wantInvalid(t, err, "spec.attachedRequired: Invalid value: false: field is immutable")
	tbl = table(t, s, "/apis/storage.k8s.io/v1/csidrivers")
	wantColumns(t, tbl, "Name", "AttachRequired", "PodInfoOnMount", "StorageCapacity", "TokenRequests", "RequiresRepublish", "Modes", "Age")
	wantRow(t, tbl, 0, "local.csi.kedge.io", "true", "false", "false", "<unset>", "false", "Persistent", "*")

	nodes := s.client.StorageV1().CSINodes()
	driver := storagev1.CSINodeDriver{Name: "local.csi.kedge.io", NodeID: "n1"}
	if _, err := nodes.Create(ctx, &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{driver}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = nodes.Create(ctx, &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "n2"},
		Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{driver, driver, {Name: "x.io"}}}}, metav1.CreateOptions{})
	wantInvalid(t, err, `spec.drivers[1].name: Duplicate value: "local.csi.kedge.io"`, "spec.drivers[2].nodeID: Required value")
	tbl = table(t, s, "/apis/storage.k8s.io/v1/csinodes")
	wantColumns(t, tbl, "Name", "Drivers", "Age")
	wantRow(t, tbl, 0, "n1", "1", "*")

	vas := s.client.StorageV1().VolumeAttachments()
	va := &storagev1.VolumeAttachment{ObjectMeta: metav1.ObjectMeta{Name: "va1"}, Spec: storagev1.VolumeAttachmentSpec{
		Attacher: "local.csi.kedge.io", NodeName: "n1", Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pv1")}}}
	gotva, err := vas.Create(ctx, va, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := va.DeepCopy()
	bad.Name = "bad"
	bad.Spec.Source.PersistentVolumeName = nil
	_, err = vas.Create(ctx, bad, metav1.CreateOptions{})
	wantInvalid(t, err, "spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName")
	gotva.Status.Attached = true
	if gotva, err = vas.UpdateStatus(ctx, gotva, metav1.UpdateOptions{}); err != nil || !gotva.Status.Attached {
		t.Fatalf("status update: %v %+v", err, gotva)
	}
	gotva.Spec.NodeName = "n2"
	_, err = vas.Update(ctx, gotva, metav1.UpdateOptions{})
	wantInvalid(t, err, "spec: Invalid value: ", "field is immutable")
	tbl = table(t, s, "/apis/storage.k8s.io/v1/volumeattachments")
	wantColumns(t, tbl, "Name", "Attacher", "PV", "Node", "Attached", "Age")
	wantRow(t, tbl, 0, "va1", "local.csi.kedge.io", "pv1", "n1", "true", "*")
}

func TestRBACKinds(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	rbac := s.client.RbacV1()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}
	gotRole, err := rbac.Roles("default").Create(ctx, role, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = rbac.Roles("default").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Rules: []rbacv1.PolicyRule{{}, {Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}}, metav1.CreateOptions{})
	wantInvalid(t, err, "rules[0].verbs: Required value: verbs must contain at least one value",
		"rules[0].apiGroups: Required value: resource rules must supply at least one api group",
		"rules[0].resources: Required value: resource rules must supply at least one resource",
		`rules[1].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs`)
	tbl := table(t, s, "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles")
	wantColumns(t, tbl, "Name", "Created At")
	wantRow(t, tbl, 0, "reader", gotRole.CreationTimestamp.UTC().Format(time.RFC3339))

	if _, err := rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "health"},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/healthz"}, Verbs: []string{"get"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		AggregationRule: &rbacv1.AggregationRule{}}, metav1.CreateOptions{})
	wantInvalid(t, err, "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil")

	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "read"}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "reader"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}, {Kind: "Group", Name: "devs"}, {Kind: "ServiceAccount", Name: "builder", Namespace: "default"}}}
	gotrb, err := rbac.RoleBindings("default").Create(ctx, rb, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if gotrb.RoleRef.APIGroup != rbacv1.GroupName || gotrb.Subjects[0].APIGroup != rbacv1.GroupName || gotrb.Subjects[2].APIGroup != "" {
		t.Errorf("binding defaults: %+v", gotrb)
	}
	gotrb.RoleRef.Name = "writer"
	_, err = rbac.RoleBindings("default").Update(ctx, gotrb, metav1.UpdateOptions{})
	wantInvalid(t, err, "roleRef: Invalid value: ", "cannot change roleRef")
	tbl = table(t, s, "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings")
	wantColumns(t, tbl, "Name", "Role", "Age", "Users(wide)", "Groups(wide)", "ServiceAccounts(wide)")
	wantRow(t, tbl, 0, "read", "Role/reader", "*", "alice", "devs", "default/builder")

	crbs := rbac.ClusterRoleBindings()
	_, err = crbs.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder"}, {Kind: "Robot", Name: "r2"}}}, metav1.CreateOptions{})
	wantInvalid(t, err, `roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`,
		"subjects[0].namespace: Required value",
		`subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"`)
	if _, err := crbs.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "health"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "health"},
		Subjects: []rbacv1.Subject{{Kind: "Group", Name: "system:authenticated"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tbl = table(t, s, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")
	wantColumns(t, tbl, "Name", "Role", "Age", "Users(wide)", "Groups(wide)", "ServiceAccounts(wide)")
	wantRow(t, tbl, 0, "health", "ClusterRole/health", "*", "", "system:authenticated", "")
}

func TestPriorityClasses(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	pcs := s.client.SchedulingV1().PriorityClasses()
	for _, sys := range scheduling.SystemPriorityClasses() {
		if _, err := pcs.Create(ctx, sys, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("system class %s: %v", sys.Name, err)
		}
	}
	got, err := pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(got.PreemptionPolicy, "") != corev1.PreemptLowerPriority {
		t.Errorf("preemption policy default: %v", got.PreemptionPolicy)
	}
	_, err = pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "huge"}, Value: 1000000001}, metav1.CreateOptions{})
	wantInvalid(t, err, "value: Forbidden: maximum allowed value of a user defined priority is 1000000000")
	_, err = pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-foo"}, Value: 1}, metav1.CreateOptions{})
	wantInvalid(t, err, "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-foo is not a known system priority class")
	_, err = pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: 5}, metav1.CreateOptions{DryRun: []string{"All"}})
	wantInvalid(t, err, "error: value of system-node-critical PriorityClass must be 2000001000")
	_, err = pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, PreemptionPolicy: ptr.To(corev1.PreemptionPolicy("Always"))}, metav1.CreateOptions{})
	wantInvalid(t, err, `preemptionPolicy: Unsupported value: "Always": supported values: "PreemptLowerPriority", "Never"`)
	got.Value = 2000
	_, err = pcs.Update(ctx, got, metav1.UpdateOptions{})
	wantInvalid(t, err, "value: Forbidden: may not be changed in an update.")

	tbl := table(t, s, "/apis/scheduling.k8s.io/v1/priorityclasses")
	wantColumns(t, tbl, "Name", "Value", "Global-Default", "Age", "PreemptionPolicy")
	wantRow(t, tbl, 0, "high", "1000", "false", "*", "PreemptLowerPriority")
	wantRow(t, tbl, 1, "system-cluster-critical", "2e+09", "false", "*", "PreemptLowerPriority")
	sys, err := pcs.Get(ctx, "system-node-critical", metav1.GetOptions{})
	if err != nil || sys.Value != 2000001000 || sys.Description != "Used for system critical pods that must not be moved from their current node." {
		t.Fatalf("system-node-critical: %v %+v", err, sys)
	}
}

func TestEventsAPISharesCoreEvents(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	now := metav1.NewMicroTime(time.Now())
	ev := &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "pulled", Namespace: "default"},
		EventTime: now, ReportingController: "kedge.io/kubelet", ReportingInstance: "node-1", Action: "Pull", Reason: "Pulled",
		Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-0", FieldPath: "spec.containers{c}"},
		Related:   &corev1.ObjectReference{Kind: "Node", Name: "node-1"},
		Note:      "Successfully pulled image", Type: corev1.EventTypeNormal}
	if _, err := s.client.EventsV1().Events("default").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	core, err := s.client.CoreV1().Events("default").Get(ctx, "pulled", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if core.Message != ev.Note || core.InvolvedObject != ev.Regarding || core.ReportingController != ev.ReportingController ||
		core.ReportingInstance != "node-1" || core.Action != "Pull" || core.Related == nil || core.Related.Name != "node-1" || core.EventTime.IsZero() {
		t.Errorf("events.k8s.io event seen as core/v1: %+v", core)
	}

	first := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	legacy := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "killed"}, Reason: "Killing", Message: "Stopping container c",
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1"}, Type: corev1.EventTypeNormal,
		Source: corev1.EventSource{Component: "kubelet", Host: "node-2"}, FirstTimestamp: first, LastTimestamp: first, Count: 3}
	if _, err := s.client.CoreV1().Events("default").Create(ctx, legacy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	newer, err := s.client.EventsV1().Events("default").Get(ctx, "killed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if newer.Note != legacy.Message || newer.Regarding.Name != "web-1" || newer.DeprecatedSource.Host != "node-2" ||
		newer.DeprecatedCount != 3 || !newer.DeprecatedFirstTimestamp.Equal(&first) {
		t.Errorf("core/v1 event seen as events.k8s.io: %+v", newer)
	}

	l, err := s.client.EventsV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "regarding.name=web-0,reportingController=kedge.io/kubelet"})
	if err != nil || len(l.Items) != 1 || l.Items[0].Name != "pulled" {
		t.Fatalf("field selector: %v %+v", err, l)
	}
	if _, err := s.client.EventsV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=web-0"}); !apierrors.IsBadRequest(err) {
		t.Errorf("core field names are not selectable through events.k8s.io: %v", err)
	}

	bad := ev.DeepCopy()
	bad.Name = "bad"
	bad.EventTime = metav1.MicroTime{}
	bad.DeprecatedCount = 2
	bad.Type = "Odd"
	_, err = s.client.EventsV1().Events("default").Create(ctx, bad, metav1.CreateOptions{})
	wantInvalid(t, err, "eventTime: Required value", `type: Invalid value: "": has invalid value: Odd`,
		`deprecatedCount: Invalid value: "": needs to be unset`)
	bad = ev.DeepCopy()
	bad.Name = "bad"
	bad.ReportingController, bad.Action = "", ""
	_, err = s.client.EventsV1().Events("default").Create(ctx, bad, metav1.CreateOptions{})
	wantInvalid(t, err, "reportingController: Required value", "action: Required value")

	// An update may grow the series but not change what happened.
	got, _ := s.client.EventsV1().Events("default").Get(ctx, "pulled", metav1.GetOptions{})
	got.Series = &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(time.Now())}
	if got, err = s.client.EventsV1().Events("default").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got.Note = "changed"
	_, err = s.client.EventsV1().Events("default").Update(ctx, got, metav1.UpdateOptions{})
	wantInvalid(t, err, `message: Invalid value: "changed": field is immutable`)

	tbl := table(t, s, "/apis/events.k8s.io/v1/namespaces/default/events")
	wantColumns(t, tbl, "Last Seen", "Type", "Reason", "Object", "Subobject(wide)", "Source(wide)", "Message", "First Seen(wide)", "Count(wide)", "Name(wide)")
	wantRow(t, tbl, 0, "*", "Normal", "Killing", "pod/web-1", "", "kubelet, node-2", "Stopping container c", "*", "3", "killed")
	wantRow(t, tbl, 1, "*", "Normal", "Pulled", "pod/web-0", "spec.containers{c}", "kedge.io/kubelet, node-1", "Successfully pulled image", "*", "2", "pulled")
}

func TestNewKindsInDiscovery(t *testing.T) {
	s := startServer(t)
	for gv, want := range map[string]map[string]string{
		"v1":                           {"replicationcontrollers": "rc", "persistentvolumes": "pv", "persistentvolumeclaims": "pvc", "resourcequotas": "quota", "limitranges": "limits", "podtemplates": ""},
		"networking.k8s.io/v1":         {"ingresses": "ing", "ingressclasses": "", "networkpolicies": "netpol"},
		"storage.k8s.io/v1":            {"storageclasses": "sc", "csidrivers": "", "csinodes": "", "volumeattachments": ""},
		"rbac.authorization.k8s.io/v1": {"roles": "", "rolebindings": "", "clusterroles": "", "clusterrolebindings": ""},
		"scheduling.k8s.io/v1":         {"priorityclasses": "pc"},
		"events.k8s.io/v1":             {"events": "ev"},
	} {
		l, err := s.client.Discovery().ServerResourcesForGroupVersion(gv)
		if err != nil {
			t.Fatalf("%s: %v", gv, err)
		}
		have := map[string]metav1.APIResource{}
		for _, r := range l.APIResources {
			have[r.Name] = r
		}
		for name, short := range want {
			r, ok := have[name]
			if !ok {
				t.Errorf("%s: %s not served", gv, name)
				continue
			}
			if strings.Join(r.ShortNames, ",") != short {
				t.Errorf("%s %s: short names %v, want %q", gv, name, r.ShortNames, short)
			}
		}
	}
}
