package apiserver

import (
	"context"
	"fmt"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/kedge-dev/kedge/internal/registry"
)

func statusError(code int, reason metav1.StatusReason, msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg}}
}

// applyPatch applies a patch document of the given content type to the
// JSON of an object whose Go type is like dataStruct.
func applyPatch(ct string, original, patch []byte, dataStruct interface{}) ([]byte, error) {
	switch types.PatchType(ct) {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		for _, op := range p {
			// RFC 6902 requires a value for these; the library would
			// dereference the missing one.
			if _, ok := op["value"]; !ok && (op.Kind() == "add" || op.Kind() == "replace" || op.Kind() == "test") {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("the %s operation of a JSON patch needs a value", op.Kind()))
			}
		}
		out, err := p.Apply(original)
		if err != nil {
			return nil, statusError(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, err.Error())
		}
		return out, nil
	case types.MergePatchType:
		out, err := jsonpatch.MergePatch(original, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	case types.StrategicMergePatchType:
		out, err := strategicpatch.StrategicMergePatch(original, patch, dataStruct)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	default:
		// Applies are served by serveApply and newScale.
		return nil, unsupportedPatchType()
	}
}

// servePatch patches an object (or its status). Without a resourceVersion in
// the patch, a conflicting concurrent write is retried on the new object.
func (s *Server) servePatch(ctx context.Context, w http.ResponseWriter, r *http.Request, res *registry.Resource, ri requestInfo, as accept, mode updateMode) {
	pt, force, err := patchOptionsOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if pt == types.ApplyYAMLPatchType {
		s.serveApply(ctx, w, r, res, ri, as, mode, force)
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	fv, err := fieldValidationOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	for attempt := 0; ; attempt++ {
		cur, _, err := s.get(ctx, res, ri.namespace, ri.name)
		if err != nil {
			writeError(w, err)
			return
		}
		curJSON, err := s.codec.encode(res, cur)
		if err != nil {
			writeError(w, err)
			return
		}
		patched, err := applyPatch(contentType(r), curJSON, body, res.New())
		if err != nil {
			writeError(w, err)
			return
		}
		obj, warnings, err := s.codec.decodeBody(res, patched, fv, "application/json")
		if err != nil {
			writeError(w, err)
			return
		}
		m, _ := meta.Accessor(obj)
		pinned := m.GetResourceVersion() != mustAccessor(cur).GetResourceVersion()
		if !pinned {
			// The patch did not name a version: it applies to the one read.
			m.SetResourceVersion(mustAccessor(cur).GetResourceVersion())
		}
		out, _, err := s.update(ctx, res, ri.namespace, ri.name, obj, mode, isDryRun(r))
		if apierrors.IsConflict(err) && !pinned && attempt < 5 {
			continue
		}
		if err != nil {
			writeError(w, err)
			return
		}
		s.writeObject(w, res, as, http.StatusOK, out, warnings)
		return
	}
}
