package apiserver

// Server-side apply: PATCH with Content-Type application/apply-patch+yaml.
//
//	body (YAML or JSON: the fields the manager wants to own)
//	  ──► FieldManager.Apply(live, body, ?fieldManager=, ?force=)
//	        merge into the live object (structured-merge-diff); a field
//	        another manager owns with another value is a conflict (409,
//	        causes of type FieldManagerConflict) unless force=true, which
//	        takes it over; fields the manager applied before and left out
//	        now are removed
//	  ──► create (the object did not exist: 201) or update (200)
//
// The status subresource applies to .status only; /scale applies to
// .spec.replicas through autoscaling/v1 Scale, whose managedFields are the
// parent's converted by managedfields.ScaleHandler.

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/yaml"

	"github.com/kedge-dev/kedge/internal/registry"
)

// servedPatchTypes are the patch formats served, in the order upstream's 415
// lists them.
var servedPatchTypes = []types.PatchType{types.JSONPatchType, types.MergePatchType,
	types.StrategicMergePatchType, types.ApplyYAMLPatchType}

func unsupportedPatchType() error {
	accepted := make([]string, len(servedPatchTypes))
	for i, pt := range servedPatchTypes {
		accepted[i] = string(pt)
	}
	return statusError(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
		"the body of the request was in an unknown format - accepted media types include: "+strings.Join(accepted, ", "))
}

// patchOptionsOf reads the patch format (415 when it is not served) and
// checks the PatchOptions as upstream does (422): an apply needs a
// fieldManager, force is for applies only. force is the apply's force.
func patchOptionsOf(r *http.Request) (pt types.PatchType, force bool, err error) {
	pt = types.PatchType(contentType(r))
	known := false
	for _, t := range servedPatchTypes {
		known = known || t == pt
	}
	if !known {
		return "", false, unsupportedPatchType()
	}
	q := r.URL.Query()
	opts := metav1.PatchOptions{FieldManager: q.Get("fieldManager"), DryRun: q["dryRun"], FieldValidation: q.Get("fieldValidation")}
	if v, ok := q["force"]; ok && len(v) > 0 {
		f := !(v[0] == "0" || strings.EqualFold(v[0], "false"))
		opts.Force, force = &f, f
	}
	if errs := metav1validation.ValidatePatchOptions(&opts, pt); len(errs) > 0 {
		return "", false, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("PatchOptions").GroupKind(), "", errs)
	}
	return pt, force, nil
}

// applyConfig is the decoded body of an apply, and the warnings (or the
// error, under fieldValidation=Strict) for its duplicate fields, which are
// reported after the merge as upstream does.
type applyConfig struct {
	obj    *unstructured.Unstructured
	strict error
}

func decodeApply(body []byte, fv fieldValidation) (applyConfig, error) {
	var c applyConfig
	c.obj = &unstructured.Unstructured{Object: map[string]interface{}{}}
	if err := yaml.Unmarshal(body, &c.obj.Object); err != nil {
		return c, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
	}
	if c.obj.Object == nil {
		c.obj.Object = map[string]interface{}{}
	}
	if fv != validateIgnore {
		c.strict = yaml.UnmarshalStrict(body, &map[string]interface{}{})
	}
	return c, nil
}

// check returns the warnings of a merged apply, or its error under Strict.
func (c applyConfig) check(fv fieldValidation) ([]string, error) {
	if c.strict == nil {
		return nil, nil
	}
	if fv == validateStrict {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error strict decoding patch: %v", c.strict))
	}
	return []string{c.strict.Error()}, nil
}

// applyError is what a failed apply answers: conflicts and bad requests
// as the field manager made them; anything else, such as a field the
// kind's schema does not declare, is upstream's 500 carrying the message.
func applyError(err error) error {
	if _, ok := err.(apierrors.APIStatus); ok {
		return err
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure,
		Code: http.StatusInternalServerError, Message: err.Error()}}
}

// serveApply applies the body to an object (mode updateMain) or to its
// status. An object that does not exist is created from the body.
func (s *Server) serveApply(ctx context.Context, w http.ResponseWriter, r *http.Request, res *registry.Resource, ri requestInfo, as accept, mode updateMode, force bool) {
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
	config, err := decodeApply(body, fv)
	if err != nil {
		writeError(w, err)
		return
	}
	sub := ""
	if mode == updateStatus {
		sub = "status"
	}
	fm, err := s.fieldManager(res, sub)
	if err != nil {
		writeError(w, err)
		return
	}
	manager := managerFrom(ctx)
	tracked := withFieldsTracked(ctx)
	for attempt := 0; ; attempt++ {
		live, _, err := s.get(ctx, res, ri.namespace, ri.name)
		create := apierrors.IsNotFound(err) && mode == updateMain
		switch {
		case create:
			live = res.New()
			live.GetObjectKind().SetGroupVersionKind(res.GVK)
		case err != nil:
			writeError(w, err)
			return
		}
		obj, err := fm.Apply(live, config.obj.DeepCopy(), manager, force)
		if err != nil {
			writeError(w, applyError(err))
			return
		}
		warnings, err := config.check(fv)
		if err != nil {
			writeError(w, err)
			return
		}
		more, err := coerceApplied(res, obj, fv)
		if err != nil {
			writeError(w, err)
			return
		}
		warnings = append(warnings, more...)
		m := mustAccessor(obj)
		if m == nil {
			writeError(w, apierrors.NewBadRequest("the applied object has no metadata"))
			return
		}
		if create {
			if m.GetName() != ri.name {
				writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), ri.name)))
				return
			}
			if uid := m.GetUID(); uid != "" {
				writeError(w, apierrors.NewConflict(res.GroupVersionResource().GroupResource(), ri.name,
					fmt.Errorf("uid mismatch: the provided object specified uid %s, and no existing object was found", uid)))
				return
			}
			out, err := s.create(tracked, res, ri.namespace, obj, isDryRun(r))
			if apierrors.IsAlreadyExists(err) && attempt < 5 {
				continue // created meanwhile: apply to it
			}
			if err != nil {
				writeError(w, err)
				return
			}
			s.writeObject(w, res, as, http.StatusCreated, out, warnings)
			return
		}
		liveRV := mustAccessor(live).GetResourceVersion()
		pinned := m.GetResourceVersion() != liveRV
		if !pinned {
			m.SetResourceVersion(liveRV)
		}
		out, _, err := s.update(tracked, res, ri.namespace, ri.name, obj, mode, isDryRun(r))
		if (apierrors.IsConflict(err) && !pinned || apierrors.IsNotFound(err) && mode == updateMain) && attempt < 5 {
			continue // changed or deleted meanwhile: apply again
		}
		if err != nil {
			writeError(w, err)
			return
		}
		s.writeObject(w, res, as, http.StatusOK, out, warnings)
		return
	}
}

// coerceApplied prunes and defaults the result of an apply to a
// schema-driven kind (a custom resource), as decoding does with the body
// of other writes, with the same fieldValidation.
func coerceApplied(res *registry.Resource, obj runtime.Object, fv fieldValidation) ([]string, error) {
	if res.Coerce == nil {
		return nil, nil
	}
	unknown, err := res.Coerce(obj)
	if err != nil {
		return nil, cannotHandle(res, err)
	}
	var warnings []string
	for _, p := range unknown {
		switch fv {
		case validateStrict:
			errs := make([]error, len(unknown))
			for i, p := range unknown {
				errs[i] = fmt.Errorf("unknown field %q", p)
			}
			return nil, cannotHandle(res, runtime.NewStrictDecodingError(errs))
		case validateWarn:
			warnings = append(warnings, fmt.Sprintf("unknown field %q", p))
		}
	}
	return warnings, nil
}

// scaleFields converts the managed fields of a scalable object to those of
// its Scale and back.
func (s *Server) scaleFields(res *registry.Resource, obj runtime.Object) *managedfields.ScaleHandler {
	paths := managedfields.ResourcePathMappings{}
	for _, r := range s.reg.Resources() {
		if r.GVK.Group == res.GVK.Group && r.GVK.Kind == res.GVK.Kind && r.Scale != nil {
			paths[r.GVK.GroupVersion().String()] = fieldpath.MakePathOrDie("spec", "replicas")
		}
	}
	return managedfields.NewScaleHandler(mustAccessor(obj).GetManagedFields(), res.GVK.GroupVersion(), paths)
}

// scaleRequest is a write to /scale, read once before the retries.
type scaleRequest struct {
	verb   string
	pt     types.PatchType
	force  bool
	body   []byte
	fv     fieldValidation
	config applyConfig
}

func (s *Server) readScaleRequest(r *http.Request, verb string) (scaleRequest, error) {
	sr := scaleRequest{verb: verb}
	var err error
	if verb == "patch" {
		if sr.pt, sr.force, err = patchOptionsOf(r); err != nil {
			return sr, err
		}
	}
	if sr.body, err = readBody(r); err != nil {
		return sr, err
	}
	if sr.fv, err = fieldValidationOf(r); err != nil {
		return sr, err
	}
	if sr.pt == types.ApplyYAMLPatchType {
		sr.config, err = decodeApply(sr.body, sr.fv)
	}
	return sr, err
}

// newScale computes the Scale a write asks for from the current one (whose
// managedFields are the parent's, converted), with its managed fields, and
// the warnings of the request.
func (s *Server) newScale(ctx context.Context, res *registry.Resource, sr scaleRequest, r *http.Request, cur *autoscalingv1.Scale) (*autoscalingv1.Scale, []string, error) {
	fm, err := s.fieldManager(res, "scale")
	if err != nil {
		return nil, nil, err
	}
	manager := managerFrom(ctx)
	if sr.pt == types.ApplyYAMLPatchType {
		obj, err := fm.Apply(cur, sr.config.obj.DeepCopy(), manager, sr.force)
		if err != nil {
			return nil, nil, applyError(err)
		}
		warnings, err := sr.config.check(sr.fv)
		if err != nil {
			return nil, nil, err
		}
		scale, ok := obj.(*autoscalingv1.Scale)
		if !ok {
			return nil, nil, fmt.Errorf("apply to scale gave a %T", obj)
		}
		return scale, warnings, nil
	}
	want := &autoscalingv1.Scale{}
	if sr.verb == "update" {
		if err := s.codec.decodeInto(contentType(r), sr.body, want); err != nil {
			return nil, nil, err
		}
	} else {
		curJSON, err := s.codec.encodeAny(cur.DeepCopy(), scaleGVK)
		if err != nil {
			return nil, nil, err
		}
		patched, err := applyPatch(string(sr.pt), curJSON, sr.body, &autoscalingv1.Scale{})
		if err != nil {
			return nil, nil, err
		}
		if err := s.codec.decodeInto("application/json", patched, want); err != nil {
			return nil, nil, err
		}
	}
	want.GetObjectKind().SetGroupVersionKind(scaleGVK)
	out, ok := fm.UpdateNoErrors(cur, want, manager).(*autoscalingv1.Scale)
	if !ok {
		return want, nil, nil
	}
	return out, nil, nil
}
