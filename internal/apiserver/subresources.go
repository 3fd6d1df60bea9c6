package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/storage"
)

// writeBack stores obj over kv (a server-side change that bypasses the
// update strategy, such as a binding).
func (s *Server) writeBack(ctx context.Context, res *registry.Resource, obj runtime.Object, kv storage.KV) error {
	data, err := s.codec.forStore(res, obj)
	if err != nil {
		return err
	}
	rev, err := s.store.Update(ctx, kv.Key, data, kv.Rev, nil, nil)
	if errors.Is(err, storage.ErrConflict) {
		return conflict(res, meta.AsPartialObjectMetadata(mustAccessor(obj)).Name)
	}
	if err != nil {
		return err
	}
	setRV(obj, rev)
	return nil
}

func mustAccessor(obj runtime.Object) metav1.Object {
	m, _ := meta.Accessor(obj)
	return m
}

// serveBinding assigns a pod to a node (pods/binding).
func (s *Server) serveBinding(ctx context.Context, w http.ResponseWriter, r *http.Request, res *registry.Resource, ri requestInfo) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var b corev1.Binding
	if err := s.codec.decodeInto(contentType(r), body, &b); err != nil {
		writeError(w, err)
		return
	}
	if b.Target.Name == "" || (b.Target.Kind != "" && b.Target.Kind != "Node") {
		writeError(w, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Binding").GroupKind(), ri.name,
			field.ErrorList{field.Invalid(field.NewPath("target"), b.Target, "must be a Node with a name")}))
		return
	}
	for attempt := 0; attempt < 5; attempt++ {
		obj, kv, err := s.get(ctx, res, ri.namespace, ri.name)
		if err != nil {
			writeError(w, err)
			return
		}
		pod := obj.(*corev1.Pod)
		if pod.DeletionTimestamp != nil {
			writeError(w, apierrors.NewConflict(res.GroupVersionResource().GroupResource(), ri.name,
				fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", ri.name)))
			return
		}
		if pod.Spec.NodeName != "" {
			writeError(w, apierrors.NewConflict(res.GroupVersionResource().GroupResource(), ri.name,
				fmt.Errorf("pod %s is already assigned to node %q", ri.name, pod.Spec.NodeName)))
			return
		}
		if b.UID != "" && b.UID != pod.UID {
			writeError(w, apierrors.NewConflict(res.GroupVersionResource().GroupResource(), ri.name,
				fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID)))
			return
		}
		pod.Spec.NodeName = b.Target.Name
		setPodCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
		if isDryRun(r) {
			break
		}
		err = s.writeBack(ctx, res, pod, kv)
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			writeError(w, err)
			return
		}
		break
	}
	writeValue(w, http.StatusCreated, statusSuccess(nil))
}

func setPodCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			if pod.Status.Conditions[i].Status != c.Status {
				pod.Status.Conditions[i] = c
			}
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}

// scaleOf builds the autoscaling/v1 Scale of obj.
func scaleOf(res *registry.Resource, obj runtime.Object) *autoscalingv1.Scale {
	m := mustAccessor(obj)
	spec, status, selector := res.Scale.Replicas(obj)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp()},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
	}
}

// serveScale serves the scale subresource: get, update and patch of the
// replica count.
func (s *Server) serveScale(ctx context.Context, w http.ResponseWriter, r *http.Request, res *registry.Resource, ri requestInfo) {
	var sr scaleRequest
	switch ri.verb {
	case "get":
	case "update", "patch":
		var err error
		if sr, err = s.readScaleRequest(r, ri.verb); err != nil {
			writeError(w, err)
			return
		}
	default:
		writeError(w, apierrors.NewMethodNotSupported(res.GroupVersionResource().GroupResource(), ri.verb))
		return
	}
	for attempt := 0; attempt < 5; attempt++ {
		obj, _, err := s.get(ctx, res, ri.namespace, ri.name)
		if err != nil {
			writeError(w, err)
			return
		}
		cur := scaleOf(res, obj)
		if ri.verb == "get" {
			writeValue(w, http.StatusOK, cur)
			return
		}
		// The Scale's managed fields are the parent's that own the
		// replicas, and go back to the parent after the write.
		fields := s.scaleFields(res, obj)
		if cur.ManagedFields, err = fields.ToSubresource(); err != nil {
			writeError(w, err)
			return
		}
		want, warnings, err := s.newScale(ctx, res, sr, r, cur)
		if err != nil {
			writeError(w, err)
			return
		}
		if want.Spec.Replicas < 0 {
			writeError(w, apierrors.NewInvalid(autoscalingv1.SchemeGroupVersion.WithKind("Scale").GroupKind(), ri.name,
				field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), want.Spec.Replicas, "must be greater than or equal to 0")}))
			return
		}
		if want.ResourceVersion != "" && want.ResourceVersion != cur.ResourceVersion {
			writeError(w, conflict(res, ri.name))
			return
		}
		res.Scale.SetReplicas(obj, want.Spec.Replicas)
		parentFields, err := fields.ToParent(want.ManagedFields)
		if err != nil {
			writeError(w, err)
			return
		}
		mustAccessor(obj).SetManagedFields(parentFields)
		out, _, err := s.update(withFieldsTracked(ctx), res, ri.namespace, ri.name, obj, updateMain, isDryRun(r))
		if apierrors.IsConflict(err) && want.ResourceVersion == "" {
			continue
		}
		if err != nil {
			writeError(w, err)
			return
		}
		for _, wn := range warnings {
			w.Header().Add("Warning", fmt.Sprintf("299 - %q", wn))
		}
		writeValue(w, http.StatusOK, scaleOf(res, out))
		return
	}
	writeError(w, conflict(res, ri.name))
}

// serveFinalize updates a namespace's spec.finalizers; a terminating
// namespace with none left is deleted.
func (s *Server) serveFinalize(ctx context.Context, w http.ResponseWriter, r *http.Request, res *registry.Resource, ri requestInfo, as accept) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	in, _, err := s.codec.decodeBody(res, body, validateIgnore, contentType(r))
	if err != nil {
		writeError(w, err)
		return
	}
	obj, kv, err := s.get(ctx, res, "", ri.name)
	if err != nil {
		writeError(w, err)
		return
	}
	ns := obj.(*corev1.Namespace)
	ns.Spec.Finalizers = in.(*corev1.Namespace).Spec.Finalizers
	if ns.DeletionTimestamp != nil && len(ns.Spec.Finalizers) == 0 && len(ns.Finalizers) == 0 {
		if _, err := s.removeObject(ctx, res, ns, kv.Rev); err != nil {
			writeError(w, err)
			return
		}
		s.writeObject(w, res, as, http.StatusOK, ns, nil)
		return
	}
	if err := s.writeBack(ctx, res, ns, kv); err != nil {
		writeError(w, err)
		return
	}
	s.writeObject(w, res, as, http.StatusOK, ns, nil)
}
