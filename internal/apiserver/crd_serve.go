package apiserver

import (
	"net/http"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kedge-dev/kedge/internal/registry"
)

// The small differences of the generic request path for custom resources,
// whose objects are unstructured.

// current is the registered resource of res's group/version/resource: the
// custom resource of a CRD that changed replaces its old strategy.
func (s *Server) current(res *registry.Resource) *registry.Resource {
	if cur, ok := s.reg.Lookup(res.GroupVersionResource()); ok {
		return cur
	}
	return res
}

// listKind is the kind of a resource's lists.
func listKind(res *registry.Resource) string {
	if res.ListKind != "" {
		return res.ListKind
	}
	return res.GVK.Kind + "List"
}

func isUnstructured(res *registry.Resource) bool {
	_, ok := res.New().(runtime.Unstructured)
	return ok
}

// customPatchTypes are the patches custom resources take: a strategic merge
// patch needs the Go type's patch strategies, which they do not have.
var customPatchTypes = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"

// checkCustomPatch refuses a strategic merge patch of a custom resource
// (or its status) with upstream's 415.
func checkCustomPatch(r *http.Request, res *registry.Resource, ri requestInfo) error {
	if ri.verb != "patch" || (ri.subresource != "" && ri.subresource != "status") || !isUnstructured(res) {
		return nil
	}
	if types.PatchType(contentType(r)) != types.StrategicMergePatchType {
		return nil
	}
	return statusError(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
		"the body of the request was in an unknown format - accepted media types include: "+customPatchTypes)
}

// copyUnstructuredField copies a top-level field of src to dst, or removes
// it from dst when src has none.
func copyUnstructuredField(dst, src *unstructured.Unstructured, name string) {
	if v, ok := src.Object[name]; ok {
		dst.Object[name] = runtime.DeepCopyJSONValue(v)
	} else {
		delete(dst.Object, name)
	}
}

// unstructuredSpecChanged compares everything but metadata, as upstream
// counts the generation of custom resources.
func unstructuredSpecChanged(obj, old *unstructured.Unstructured) bool {
	n := 0
	for k, v := range obj.Object {
		if k == "metadata" {
			continue
		}
		n++
		if ov, ok := old.Object[k]; !ok || !apiequality.Semantic.DeepEqual(v, ov) {
			return true
		}
	}
	for k := range old.Object {
		if k != "metadata" {
			n--
		}
	}
	return n != 0
}
