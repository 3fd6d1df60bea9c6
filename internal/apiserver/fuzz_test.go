package apiserver

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/registry/builtin"
)

// These fuzzers run their seeds with every `go test`; `go test -fuzz
// FuzzName ./internal/apiserver/` explores further. The property: no
// panic, and every refusal is a metav1.Status with a 4xx code.

func fuzzResources(t testing.TB) []*registry.Resource {
	reg := builtin.New(builtin.Config{ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16"),
		Taken: func(context.Context, string) (bool, error) { return false, nil }})
	var out []*registry.Resource
	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "pods"},
		{Version: "v1", Resource: "services"},
		{Group: "apps", Version: "v1", Resource: "deployments"},
		{Version: "v1", Resource: "configmaps"},
	} {
		res, ok := reg.Lookup(gvr)
		if !ok {
			t.Fatalf("no resource %v", gvr)
		}
		out = append(out, res)
	}
	return out
}

// clientError fails unless err is an API status with a 4xx code.
func clientError(t *testing.T, err error, what string) {
	t.Helper()
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		t.Fatalf("%s: not an API status: %v", what, err)
	}
	if c := st.Status().Code; c < 400 || c > 499 {
		t.Fatalf("%s: code %d, want 4xx: %v", what, c, err)
	}
}

var contentTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
var validations = []fieldValidation{validateStrict, validateWarn, validateIgnore}

func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","name":"q"}}`,
		`{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"c","unknown":1}]}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":"three"}}`,
		`{"apiVersion":"v2","kind":"Pod"}`,
		`{"kind":"Service"}`,
		`{"metadata":null,"spec":null,"status":null}`,
		`{"metadata":{"labels":{"a":1}}}`,
		`{"spec":{"containers":[{"resources":{"limits":{"cpu":"1.5.5"}}}]}}`,
		`{"spec":{"ports":[{"port":99999999999999999999}]}}`,
		`{"spec":{"ports":[{"targetPort":{}}]}}`,
		`{"metadata":{"creationTimestamp":"yesterday"}}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`,
		`{"a":` + `{"a":` + `{"a":` + `{}}}}`,
		"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n",
		"apiVersion: v1\nkind: Pod\nmetadata: &a\n  name: *a\n",
		"- a\n- b\n",
		"k8s\x00\x0a\x02\x76\x31\x12\x03Pod",
		"k8s\x00\xff\xff\xff\xff",
		"null", "", " ", "{}", "[]", `"string"`, "12", "\xff\xfe",
	} {
		for i := range contentTypes {
			f.Add([]byte(seed), uint8(i), uint8(i))
		}
	}
	resources := fuzzResources(f)
	c := newCodec()
	f.Fuzz(func(t *testing.T, body []byte, ct, fv uint8) {
		for _, res := range resources {
			obj, _, err := c.decodeBody(res, body, validations[int(fv)%len(validations)], contentTypes[int(ct)%len(contentTypes)])
			if err != nil {
				clientError(t, err, "decode "+res.Name)
				continue
			}
			if obj == nil || obj.GetObjectKind().GroupVersionKind() != res.GVK {
				t.Fatalf("decoded %T with kind %v as %s", obj, obj.GetObjectKind().GroupVersionKind(), res.GVK)
			}
			if _, err := c.encode(res, obj); err != nil {
				t.Fatalf("a decoded %s does not encode: %v", res.Name, err)
			}
		}
	})
}

func FuzzSelectors(f *testing.F) {
	for _, s := range [][2]string{
		{"app=web", ""}, {"app!=web,tier", "metadata.name=p"}, {"app in (a,b),!x", "spec.nodeName=n1"},
		{"tier notin ()", "status.phase!=Running"}, {"a=b=c", "metadata.namespace==x"}, {"(", "="},
		{"app in (", "spec.nodeName"}, {"x,,y", ",,"}, {"a.b/c-d_e=v", `metadata.name=a\,b`},
		{"!", "!"}, {"a>1", "a<1"}, {"a=" + string(make([]byte, 64)), `\`}, {"a in (b", `spec.nope=x`},
	} {
		f.Add(s[0], s[1])
	}
	resources := fuzzResources(f)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", Labels: map[string]string{"app": "web", "tier": "db"}},
		Spec:       corev1.PodSpec{NodeName: "n1"},
	}
	f.Fuzz(func(t *testing.T, ls, fs string) {
		q := url.Values{"labelSelector": {ls}, "fieldSelector": {fs}}
		for _, res := range resources {
			sel, err := parseSelection(res, q)
			if err != nil {
				clientError(t, err, "selectors")
				continue
			}
			if res.Name == "pods" {
				sel.matches(res, pod)
			} else {
				sel.matches(res, res.New())
			}
			sel.fields.RequiresExactMatch("metadata.name")
		}
	})
}

var patchTypes = []types.PatchType{types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType, "text/plain"}

func FuzzApplyPatch(f *testing.F) {
	for _, seed := range []string{
		`[{"op":"replace","path":"/metadata/labels/app","value":"db"}]`,
		`[{"op":"add","path":"/spec/containers/-","value":{"name":"d","image":"i"}}]`,
		`[{"op":"remove","path":"/spec/containers/5"}]`,
		`[{"op":"move","from":"/spec","path":"/spec/containers"}]`,
		`[{"op":"copy","from":"/metadata","path":"/metadata/labels/x"}]`,
		`[{"op":"test","path":"/metadata/name","value":"p"}]`,
		`[{"op":"add","path":"/spec/containers/99999999999999999999","value":1}]`,
		`[{"op":"add","path":"/spec/containers/-1","value":1}]`,
		`[{"op":"bogus"}]`, `[{}]`, `[null]`, `{"op":"add"}`,
		`{"metadata":{"labels":{"app":null}}}`,
		`{"spec":{"containers":[{"name":"c","image":"j"}]}}`,
		`{"spec":{"containers":[{"$patch":"delete","name":"c"}]}}`,
		`{"spec":{"$setElementOrder/containers":[{"name":"x"}],"containers":[{"name":"x"}]}}`,
		`{"spec":{"$retainKeys":["containers"],"containers":null}}`,
		`{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}`,
		`{"$patch":"replace"}`, `{"spec":{"$patch":"delete"}}`, `{"spec":{"containers":{"$patch":"merge"}}}`,
		`{"spec":{"containers":"notalist"}}`, `{"spec":{"tolerations":[1,2,3]}}`,
		`null`, `[]`, `{}`, `"x"`, `{`, "",
	} {
		for i := range patchTypes {
			f.Add([]byte(seed), uint8(i))
		}
	}
	resources := fuzzResources(f)
	c := newCodec()
	orig := map[string][]byte{}
	for _, res := range resources {
		obj := res.New()
		switch o := obj.(type) {
		case *corev1.Pod:
			o.Name, o.Namespace = "p", "default"
			o.Labels = map[string]string{"app": "web"}
			o.Finalizers = []string{"a", "b"}
			o.Spec.Containers = []corev1.Container{{Name: "c", Image: "i", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}
			o.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
		default:
			if m, err := meta.Accessor(obj); err == nil {
				m.SetName("o")
			}
		}
		raw, err := c.encode(res, obj)
		if err != nil {
			f.Fatal(err)
		}
		orig[res.Name] = raw
	}
	f.Fuzz(func(t *testing.T, patch []byte, pt uint8) {
		ct := string(patchTypes[int(pt)%len(patchTypes)])
		for _, res := range resources {
			out, err := applyPatch(ct, orig[res.Name], patch, res.New())
			if err != nil {
				clientError(t, err, "patch "+res.Name)
				continue
			}
			// What the patch produced goes through the decoder next.
			if _, _, err := c.decodeBody(res, out, validateStrict, "application/json"); err != nil {
				clientError(t, err, "decode the patched "+res.Name)
			}
		}
	})
}
