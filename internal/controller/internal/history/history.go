// Package history holds what the StatefulSet and DaemonSet controllers
// share about ControllerRevisions: the snapshot of a pod template they
// store, how it is hashed and named, and how revisions are compared and
// ordered. Everything here is pure; the controllers do the I/O.
//
// A revision's data is a strategic merge patch that puts the template back,
//
//	{"spec":{"template":{...,"$patch":"replace"}}}
//
// with the object keys sorted, byte for byte what upstream stores, so
// `kubectl rollout history|undo` can read and apply it.
package history

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// HashLabel is the label a StatefulSet's revision carries with the hash of
// its data (upstream's ControllerRevisionHashLabel).
const HashLabel = "controller.kubernetes.io/hash"

// Patch returns the revision data of a pod template.
func Patch(t *corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode pod template: %w", err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		return nil, fmt.Errorf("decode pod template: %w", err)
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// Template decodes the pod template a revision stores.
func Template(cr *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var obj struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(cr.Data.Raw, &obj); err != nil {
		return nil, fmt.Errorf("decode controllerrevision %s/%s: %w", cr.Namespace, cr.Name, err)
	}
	return &obj.Spec.Template, nil
}

// Hash is upstream's hash of revision data: FNV-32 over the bytes, then the
// collision count in decimal when set, rendered with rand.SafeEncodeString.
func Hash(data []byte, collisionCount *int32) string {
	h := fnv.New32()
	h.Write(data)
	if collisionCount != nil {
		h.Write([]byte(strconv.FormatInt(int64(*collisionCount), 10)))
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// Name is a revision's name, <prefix>-<hash>, the prefix cut to 223
// characters so the name stays a valid object name.
func Name(prefix, hash string) string {
	if len(prefix) > 223 {
		prefix = prefix[:223]
	}
	return prefix + "-" + hash
}

// EqualData reports whether two revision datas hold the same JSON value,
// whatever the key order or spacing.
func EqualData(a, b []byte) bool {
	if string(a) == string(b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// Sort orders revisions by revision number, then name.
func Sort(revs []*appsv1.ControllerRevision) {
	sort.SliceStable(revs, func(i, j int) bool {
		if revs[i].Revision != revs[j].Revision {
			return revs[i].Revision < revs[j].Revision
		}
		return revs[i].Name < revs[j].Name
	})
}

// Next is the revision number after the highest of revs (1 for none).
func Next(revs []*appsv1.ControllerRevision) int64 {
	var m int64
	for _, r := range revs {
		m = max(m, r.Revision)
	}
	return m + 1
}
