package ctrlutil

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Object is an API object: metadata plus deep copy.
type Object interface {
	metav1.Object
	runtime.Object
}

// Claim is the outcome of matching candidate objects against a controller:
// which it already owns and keeps, which orphans it should adopt and which
// owned objects it should release because they no longer match its
// selector. Objects owned by another controller are left alone.
type Claim[T Object] struct {
	Owned   []T // owned and still matching
	Adopt   []T // orphans that match; owned once the adoption is written
	Release []T // owned but no longer matching
}

// ClaimObjects sorts candidates for a controller with the given uid and
// selector. A controller that is being deleted adopts nothing.
func ClaimObjects[T Object](owner metav1.Object, selector labels.Selector, candidates []T) Claim[T] {
	var c Claim[T]
	for _, obj := range candidates {
		ref := metav1.GetControllerOfNoCopy(obj)
		matches := selector.Matches(labels.Set(obj.GetLabels()))
		switch {
		case ref != nil && ref.UID == owner.GetUID():
			if matches {
				c.Owned = append(c.Owned, obj)
			} else if obj.GetDeletionTimestamp() == nil {
				c.Release = append(c.Release, obj)
			}
		case ref != nil:
			// Someone else's.
		case matches && owner.GetDeletionTimestamp() == nil && obj.GetDeletionTimestamp() == nil:
			c.Adopt = append(c.Adopt, obj)
		}
	}
	return c
}

// Write carries a claim out: an adoption adds ref as the controller
// reference, a release drops the owner's references, each an update of the
// object. canAdopt is asked once before the first adoption (controllers
// check with the server that the owner still exists and is not being
// deleted). Write returns the objects owned afterwards.
func (c Claim[T]) Write(ctx context.Context, ref metav1.OwnerReference, canAdopt func(context.Context) bool, update func(context.Context, T) (T, error)) ([]T, error) {
	owned := append([]T(nil), c.Owned...)
	var errs []error
	if len(c.Adopt) > 0 && canAdopt(ctx) {
		for _, obj := range c.Adopt {
			cp := obj.DeepCopyObject().(T)
			cp.SetOwnerReferences(WithControllerRef(cp.GetOwnerReferences(), ref))
			got, err := update(ctx, cp)
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				errs = append(errs, fmt.Errorf("adopt %s/%s: %w", obj.GetNamespace(), obj.GetName(), err))
			default:
				owned = append(owned, got)
			}
		}
	}
	for _, obj := range c.Release {
		cp := obj.DeepCopyObject().(T)
		cp.SetOwnerReferences(WithoutOwner(cp.GetOwnerReferences(), ref.UID))
		if _, err := update(ctx, cp); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("release %s/%s: %w", obj.GetNamespace(), obj.GetName(), err))
		}
	}
	return owned, errors.Join(errs...)
}

// ResolveControllerRef returns the object obj's controller reference
// names when the reference is to kind (group, version and kind) and get,
// a lister's Get in obj's namespace, finds an object with its UID.
func ResolveControllerRef[T metav1.Object](obj metav1.Object, kind schema.GroupVersionKind, get func(name string) (T, error)) (T, bool) {
	var zero T
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil || ref.Kind != kind.Kind || ref.APIVersion != kind.GroupVersion().String() {
		return zero, false
	}
	owner, err := get(ref.Name)
	if err != nil || owner.GetUID() != ref.UID {
		return zero, false
	}
	return owner, true
}

// CanAdopt returns the check Claim.Write makes before its first
// adoption: the owner, read from the server rather than the cache, still
// exists with the same UID and is not being deleted. get is the typed
// client's Get in the owner's namespace.
func CanAdopt[T metav1.Object](owner metav1.Object, get func(context.Context, string, metav1.GetOptions) (T, error)) func(context.Context) bool {
	return func(ctx context.Context) bool {
		fresh, err := get(ctx, owner.GetName(), metav1.GetOptions{})
		return err == nil && fresh.GetUID() == owner.GetUID() && fresh.GetDeletionTimestamp() == nil
	}
}

// ClaimPods claims pods for an owner of the given kind (see ClaimObjects)
// and writes the adoptions and releases as plain pod updates. It returns
// the pods the owner has afterwards.
func ClaimPods(ctx context.Context, client kubernetes.Interface, owner metav1.Object, kind schema.GroupVersionKind, sel labels.Selector, pods []*corev1.Pod, canAdopt func(context.Context) bool) ([]*corev1.Pod, error) {
	update := func(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
		return client.CoreV1().Pods(p.Namespace).Update(ctx, p, metav1.UpdateOptions{})
	}
	return claim(ctx, "pods", owner, kind, sel, pods, canAdopt, update)
}

// ClaimRevisions is ClaimPods for ControllerRevisions.
func ClaimRevisions(ctx context.Context, client kubernetes.Interface, owner metav1.Object, kind schema.GroupVersionKind, sel labels.Selector, revs []*appsv1.ControllerRevision, canAdopt func(context.Context) bool) ([]*appsv1.ControllerRevision, error) {
	update := func(ctx context.Context, r *appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
		return client.AppsV1().ControllerRevisions(r.Namespace).Update(ctx, r, metav1.UpdateOptions{})
	}
	return claim(ctx, "controllerrevisions", owner, kind, sel, revs, canAdopt, update)
}

// claim claims and writes candidates; errors read "claim <what> of <kind>
// <namespace>/<name>: ...".
func claim[T Object](ctx context.Context, what string, owner metav1.Object, kind schema.GroupVersionKind, sel labels.Selector, candidates []T, canAdopt func(context.Context) bool, update func(context.Context, T) (T, error)) ([]T, error) {
	owned, err := ClaimObjects(owner, sel, candidates).Write(ctx, *metav1.NewControllerRef(owner, kind), canAdopt, update)
	if err != nil {
		return nil, fmt.Errorf("claim %s of %s %s/%s: %w", what, strings.ToLower(kind.Kind), owner.GetNamespace(), owner.GetName(), err)
	}
	return owned, nil
}

// WithControllerRef returns obj's owner references with ref added as the
// controller reference.
func WithControllerRef(refs []metav1.OwnerReference, ref metav1.OwnerReference) []metav1.OwnerReference {
	out := make([]metav1.OwnerReference, 0, len(refs)+1)
	for _, r := range refs {
		if r.UID != ref.UID {
			out = append(out, r)
		}
	}
	return append(out, ref)
}

// WithoutOwner returns refs without the references to uid.
func WithoutOwner(refs []metav1.OwnerReference, uid types.UID) []metav1.OwnerReference {
	var out []metav1.OwnerReference
	for _, r := range refs {
		if r.UID != uid {
			out = append(out, r)
		}
	}
	return out
}

// ControllerUIDIndex names the informer index of objects by the UID of
// their controller reference.
const ControllerUIDIndex = "kedge-controller-uid"

// IndexByControllerUID indexes an object by its controller's UID.
func IndexByControllerUID(obj any) ([]string, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOfNoCopy(m); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return nil, nil
}

// EnsureIndex adds an index to a shared informer unless an index of that
// name is already there (several controllers share one pod informer).
func EnsureIndex(inf cache.SharedIndexInformer, name string, fn cache.IndexFunc) error {
	if _, ok := inf.GetIndexer().GetIndexers()[name]; ok {
		return nil
	}
	if err := inf.AddIndexers(cache.Indexers{name: fn}); err != nil {
		return fmt.Errorf("add index %s: %w", name, err)
	}
	return nil
}
