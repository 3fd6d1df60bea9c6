package history

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func template() *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "busybox", Command: []string{"sleep", "3600"}}}},
	}
}

func TestPatchIsSortedReplacePatch(t *testing.T) {
	got, err := Patch(template())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"db"}},` +
		`"spec":{"containers":[{"command":["sleep","3600"],"image":"busybox","name":"db","resources":{}}]}}}}`
	if string(got) != want {
		t.Errorf("patch =\n%s\nwant\n%s", got, want)
	}
	back, err := Template(&appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: got}})
	if err != nil || back.Spec.Containers[0].Image != "busybox" || back.Labels["app"] != "db" {
		t.Errorf("Template = %+v, %v", back, err)
	}
}

func TestHashAndName(t *testing.T) {
	data, _ := Patch(template())
	var zero, one int32 = 0, 1
	h0, h1, hn := Hash(data, &zero), Hash(data, &one), Hash(data, nil)
	if h0 == h1 || h0 == hn || Hash(data, &zero) != h0 {
		t.Errorf("hashes %s %s %s must be stable and depend on the collision count", h0, h1, hn)
	}
	if strings.ContainsAny(h0, "aeiou013") {
		t.Errorf("hash %s is not safe-encoded", h0)
	}
	if n := Name(strings.Repeat("x", 300), "abc"); len(n) != 227 || !strings.HasSuffix(n, "-abc") {
		t.Errorf("long name %d %s", len(n), n[len(n)-5:])
	}
}

func TestEqualData(t *testing.T) {
	if !EqualData([]byte(`{"a":1,"b":[1,2]}`), []byte(`{ "b":[1,2], "a":1 }`)) {
		t.Error("key order and spaces must not matter")
	}
	if EqualData([]byte(`{"a":1}`), []byte(`{"a":2}`)) || EqualData([]byte(`{`), []byte(`{`+"}")) {
		t.Error("different or broken data is not equal")
	}
}

func TestSortAndNext(t *testing.T) {
	revs := []*appsv1.ControllerRevision{{Revision: 3}, {Revision: 1}, {Revision: 2}}
	Sort(revs)
	if revs[0].Revision != 1 || revs[2].Revision != 3 || Next(revs) != 4 || Next(nil) != 1 {
		t.Errorf("sorted %d %d %d next %d", revs[0].Revision, revs[1].Revision, revs[2].Revision, Next(revs))
	}
}
