package rootcacert

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
)

const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func published(ns string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: ns, Annotations: map[string]string{DescriptionAnnotation: Description}},
		Data:       map[string]string{Key: ca},
	}
}

func TestPlan(t *testing.T) {
	stale := published("apps")
	stale.Data[Key] = "old"
	extra := published("apps")
	extra.Data["other"] = "x"
	noNote := published("apps")
	noNote.Annotations = map[string]string{"team": "a"}
	binary := published("apps")
	binary.BinaryData = map[string][]byte{"b": {1}}
	tests := []struct {
		name       string
		existing   *corev1.ConfigMap
		wantAction string
	}{
		{"missing", nil, "create"},
		{"up to date", published("apps"), "none"},
		{"other CA", stale, "update"},
		{"extra key", extra, "update"},
		{"binary data", binary, "update"},
		{"annotation removed", noNote, "update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, create := Plan("apps", tt.existing, []byte(ca))
			action := "none"
			switch {
			case want != nil && create:
				action = "create"
			case want != nil:
				action = "update"
			}
			if action != tt.wantAction {
				t.Fatalf("action = %s, want %s", action, tt.wantAction)
			}
			if want == nil {
				return
			}
			if want.Name != ConfigMapName || want.Namespace != "apps" || len(want.Data) != 1 || want.Data[Key] != ca ||
				len(want.BinaryData) != 0 || want.Annotations[DescriptionAnnotation] != Description {
				t.Errorf("planned ConfigMap = %+v", want)
			}
			if tt.existing != nil && tt.existing.Annotations["team"] != want.Annotations["team"] {
				t.Error("other annotations must be kept")
			}
		})
	}
}

func TestControllerPublishesAndRestores(t *testing.T) {
	cs := ctrltest.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dying"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
	)
	f := informers.NewSharedInformerFactory(cs, 0)
	c, err := New(Options{Client: cs, Informers: f, RootCA: []byte(ca), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctrltest.StartInformers(t, f)
	go c.Run(ctx)
	get := func(ns string) *corev1.ConfigMap {
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, ConfigMapName, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		return cm
	}
	ctrltest.Eventually(t, "kube-root-ca.crt in default", func() bool { cm := get("default"); return cm != nil && cm.Data[Key] == ca })
	if cm := get("default"); cm.Annotations[DescriptionAnnotation] != Description {
		t.Errorf("annotations = %v", cm.Annotations)
	}

	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, "kube-root-ca.crt in a new namespace", func() bool { return get("apps") != nil })

	cm := get("apps")
	cm.Data[Key] = "tampered"
	if _, err := cs.CoreV1().ConfigMaps("apps").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, "changed data restored", func() bool { cm := get("apps"); return cm != nil && cm.Data[Key] == ca })

	if err := cs.CoreV1().ConfigMaps("apps").Delete(ctx, ConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, "deleted ConfigMap recreated", func() bool { return get("apps") != nil })
	if get("dying") != nil {
		t.Error("a terminating namespace must not get the ConfigMap")
	}
}

func TestNewNeedsACA(t *testing.T) {
	cs := ctrltest.NewClientset()
	if _, err := New(Options{Client: cs, Informers: informers.NewSharedInformerFactory(cs, 0)}); err == nil {
		t.Error("want an error without a root CA")
	}
}
