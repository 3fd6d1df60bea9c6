package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/storage"
)

// key is the etcd key of an object.
func key(res *registry.Resource, namespace, name string) string {
	if res.Namespaced {
		return "/registry/" + res.KeyResource() + "/" + namespace + "/" + name
	}
	return "/registry/" + res.KeyResource() + "/" + name
}

// prefix is the etcd key prefix of a resource in a namespace ("" = all).
func prefix(res *registry.Resource, namespace string) string {
	if res.Namespaced && namespace != "" {
		return "/registry/" + res.KeyResource() + "/" + namespace + "/"
	}
	return "/registry/" + res.KeyResource() + "/"
}

func (s *Server) qualified(res *registry.Resource) string {
	return res.GroupVersionResource().GroupResource().String()
}

func notFound(res *registry.Resource, name string) error {
	return apierrors.NewNotFound(res.GroupVersionResource().GroupResource(), name)
}

// get reads one object.
func (s *Server) get(ctx context.Context, res *registry.Resource, ns, name string) (runtime.Object, storage.KV, error) {
	kv, err := s.store.Get(ctx, key(res, ns, name))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, kv, notFound(res, name)
	}
	if err != nil {
		return nil, kv, err
	}
	obj, err := s.codec.fromStore(res, kv)
	return obj, kv, err
}

// ensureNamespace refuses writes into a namespace that does not exist or is
// being deleted.
func (s *Server) ensureNamespace(ctx context.Context, res *registry.Resource, ns, name string) error {
	if !res.Namespaced {
		return nil
	}
	nsRes, _ := s.reg.Lookup(namespacesGVR)
	obj, _, err := s.get(ctx, nsRes, "", ns)
	if err != nil {
		return err
	}
	if m, _ := meta.Accessor(obj); m != nil && m.GetDeletionTimestamp() != nil {
		return apierrors.NewForbidden(res.GroupVersionResource().GroupResource(), name,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
	}
	return nil
}

// create stores a new object. dryRun validates and returns without storing.
func (s *Server) create(ctx context.Context, res *registry.Resource, ns string, obj runtime.Object, dryRun bool) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if res.Namespaced {
		if m.GetNamespace() != "" && m.GetNamespace() != ns {
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		m.SetNamespace(ns)
	} else {
		m.SetNamespace("")
	}
	if err := s.ensureNamespace(ctx, res, ns, m.GetName()); err != nil {
		return nil, err
	}
	if err := s.admitCreate(ctx, res, obj); err != nil {
		return nil, err
	}
	generated := m.GetName() == "" && m.GetGenerateName() != ""
	orig := obj.DeepCopyObject()
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			obj = orig.DeepCopyObject()
			m, _ = meta.Accessor(obj)
		}
		if generated {
			m.SetName(m.GetGenerateName() + utilrand.String(5))
		}
		m.SetUID(uuid.NewUUID())
		m.SetCreationTimestamp(metav1.Now())
		m.SetDeletionTimestamp(nil)
		m.SetDeletionGracePeriodSeconds(nil)
		m.SetResourceVersion("")
		m.SetSelfLink("")
		if res.Generation {
			m.SetGeneration(1)
		} else {
			m.SetGeneration(0)
		}
		// The manager owns what it sent and its defaults (upstream
		// defaults while decoding), not what admission and the strategy
		// set next.
		if res.Default != nil {
			res.Default(obj)
		}
		obj = s.trackFields(ctx, res, updateMain, nil, obj)
		m, _ = meta.Accessor(obj)
		if res.PrepareForCreate != nil {
			res.PrepareForCreate(obj)
		}
		if res.Default != nil {
			res.Default(obj)
		}
		errs := registry.ValidateMeta(res, m)
		if res.Validate != nil {
			errs = append(errs, res.Validate(obj)...)
		}
		if len(errs) > 0 {
			return nil, invalid(res, m.GetName(), errs)
		}
		var claims map[string]string
		if res.BeforeCreate != nil {
			if claims, err = res.BeforeCreate(ctx, obj); err != nil {
				return nil, err
			}
		}
		if dryRun {
			return obj, nil
		}
		data, err := s.codec.forStore(res, obj)
		if err != nil {
			return nil, err
		}
		rev, err := s.store.Create(ctx, key(res, ns, m.GetName()), data, claims)
		switch {
		case err == nil:
			setRV(obj, rev)
			return obj, nil
		case errors.Is(err, storage.ErrExists) && generated && attempt < 5:
			continue
		case errors.Is(err, storage.ErrExists):
			return nil, apierrors.NewAlreadyExists(res.GroupVersionResource().GroupResource(), m.GetName())
		case errors.Is(err, storage.ErrClaimed) && attempt < 5:
			continue // an allocated value was taken meanwhile: allocate again
		default:
			return nil, err
		}
	}
}

func invalid(res *registry.Resource, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(res.GVK.GroupKind(), name, errs)
}

// updateMode says which part of an object an update may change.
type updateMode int

const (
	updateMain   updateMode = iota // everything but .status (when the kind has a status subresource)
	updateStatus                   // only .status
)

// update replaces an object after checking its resourceVersion.
func (s *Server) update(ctx context.Context, res *registry.Resource, ns, name string, obj runtime.Object, mode updateMode, dryRun bool) (runtime.Object, bool, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, false, apierrors.NewBadRequest(err.Error())
	}
	if m.GetName() != name {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), name))
	}
	if res.Namespaced {
		if m.GetNamespace() != "" && m.GetNamespace() != ns {
			return nil, false, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		m.SetNamespace(ns)
	}
	old, kv, err := s.get(ctx, res, ns, name)
	if err != nil {
		return nil, false, err
	}
	om, _ := meta.Accessor(old)
	if rv := m.GetResourceVersion(); rv != "" && rv != om.GetResourceVersion() {
		return nil, false, conflict(res, name)
	}
	// What a client may not change.
	m.SetUID(om.GetUID())
	m.SetCreationTimestamp(om.GetCreationTimestamp())
	m.SetDeletionTimestamp(om.GetDeletionTimestamp())
	m.SetDeletionGracePeriodSeconds(om.GetDeletionGracePeriodSeconds())
	m.SetGeneration(om.GetGeneration())
	m.SetResourceVersion(om.GetResourceVersion())
	if om.GetDeletionTimestamp() != nil && len(m.GetFinalizers()) > len(om.GetFinalizers()) && !subset(m.GetFinalizers(), om.GetFinalizers()) {
		return nil, false, invalid(res, name, field.ErrorList{field.Forbidden(field.NewPath("metadata", "finalizers"),
			"no new finalizers can be added if the object is being deleted")})
	}
	if res.Status {
		switch mode {
		case updateMain:
			copyField(obj, old, "Status")
		case updateStatus:
			// Only status changes: keep everything else as stored.
			next := old.DeepCopyObject()
			copyField(next, obj, "Status")
			nm, _ := meta.Accessor(next)
			nm.SetResourceVersion(m.GetResourceVersion())
			// An apply to the status brings its managed fields along.
			nm.SetManagedFields(m.GetManagedFields())
			obj, m = next, nm
		}
	}
	if res.Default != nil {
		res.Default(obj)
	}
	obj = s.trackFields(ctx, res, mode, old, obj)
	m, _ = meta.Accessor(obj)
	if res.Generation && mode == updateMain && specChanged(obj, old) {
		m.SetGeneration(om.GetGeneration() + 1)
	}
	errs := registry.ValidateMeta(res, m)
	if res.Validate != nil && !res.ValidateUpdateOnly {
		errs = append(errs, res.Validate(obj)...)
	}
	if res.ValidateUpdate != nil {
		errs = append(errs, res.ValidateUpdate(obj, old)...)
	}
	errs = append(errs, registry.ValidateMetaUpdate(m, om)...)
	if len(errs) > 0 {
		return nil, false, invalid(res, name, errs)
	}
	var claims map[string]string
	var release []string
	if res.BeforeUpdate != nil {
		if claims, release, err = res.BeforeUpdate(ctx, obj, old); err != nil {
			return nil, false, err
		}
	}
	if dryRun {
		return obj, false, nil
	}
	// An object being deleted whose last finalizer went goes away now.
	if m.GetDeletionTimestamp() != nil && len(m.GetFinalizers()) == 0 &&
		(m.GetDeletionGracePeriodSeconds() == nil || *m.GetDeletionGracePeriodSeconds() == 0) &&
		(res.Finalizing == nil || !res.Finalizing(obj)) {
		if _, err := s.removeObject(ctx, res, obj, kv.Rev); err != nil {
			return nil, false, err
		}
		return obj, true, nil
	}
	data, err := s.codec.forStore(res, obj)
	if err != nil {
		return nil, false, err
	}
	if string(data) == string(kv.Value) && len(claims) == 0 && len(release) == 0 {
		return obj, false, nil // nothing changed: no new revision
	}
	rev, err := s.store.Update(ctx, kv.Key, data, kv.Rev, claims, release)
	if err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil, false, conflict(res, name)
		}
		if errors.Is(err, storage.ErrNotFound) {
			return nil, false, notFound(res, name)
		}
		return nil, false, err
	}
	setRV(obj, rev)
	return obj, false, nil
}

func conflict(res *registry.Resource, name string) error {
	return apierrors.NewConflict(res.GroupVersionResource().GroupResource(), name,
		errors.New("the object has been modified; please apply your changes to the latest version and try again"))
}

func subset(a, b []string) bool {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	for _, x := range a {
		if !in[x] {
			return false
		}
	}
	return true
}

// copyField copies the exported struct field name from src to dst (both
// pointers to the same struct type); for unstructured objects, the
// top-level field of that name in lower camel case ("Status" → "status").
func copyField(dst, src runtime.Object, name string) {
	if du, ok := dst.(*unstructured.Unstructured); ok {
		copyUnstructuredField(du, src.(*unstructured.Unstructured), strings.ToLower(name[:1])+name[1:])
		return
	}
	d := reflect.ValueOf(dst).Elem().FieldByName(name)
	sv := reflect.ValueOf(src).Elem().FieldByName(name)
	if d.IsValid() && sv.IsValid() && d.CanSet() {
		d.Set(sv)
	}
}

// specChanged compares everything but metadata and status; for
// unstructured objects everything but metadata (a status kept from the old
// object compares equal).
func specChanged(obj, old runtime.Object) bool {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return unstructuredSpecChanged(u, old.(*unstructured.Unstructured))
	}
	a, b := reflect.ValueOf(obj).Elem(), reflect.ValueOf(old).Elem()
	for i := 0; i < a.NumField(); i++ {
		switch a.Type().Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		if !apiequality.Semantic.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			return true
		}
	}
	return false
}

// deleteOptions are the parts of metav1.DeleteOptions the server honours.
type deleteOptions struct {
	grace        *int64
	propagation  *metav1.DeletionPropagation
	precondition *metav1.Preconditions
	dryRun       bool
}

// delete deletes an object, or marks it deleted when it has finalizers or a
// grace period. It returns the object and whether it is gone.
func (s *Server) delete(ctx context.Context, res *registry.Resource, ns, name string, opts deleteOptions) (runtime.Object, bool, error) {
	for attempt := 0; ; attempt++ {
		obj, kv, err := s.get(ctx, res, ns, name)
		if err != nil {
			return nil, false, err
		}
		m, _ := meta.Accessor(obj)
		if p := opts.precondition; p != nil {
			if p.UID != nil && *p.UID != m.GetUID() {
				return nil, false, apierrors.NewConflict(res.GroupVersionResource().GroupResource(), name,
					fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
				return nil, false, apierrors.NewConflict(res.GroupVersionResource().GroupResource(), name,
					fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion()))
			}
		}
		var grace int64
		graceful := false
		if res.GracePeriod != nil {
			grace, graceful = res.GracePeriod(obj, opts.grace)
		}
		finalizers := m.GetFinalizers()
		if opts.propagation != nil {
			switch *opts.propagation {
			case metav1.DeletePropagationOrphan:
				finalizers = withFinalizer(withoutFinalizer(finalizers, metav1.FinalizerDeleteDependents), metav1.FinalizerOrphanDependents)
			case metav1.DeletePropagationForeground:
				finalizers = withFinalizer(withoutFinalizer(finalizers, metav1.FinalizerOrphanDependents), metav1.FinalizerDeleteDependents)
			}
		}
		finalizing := res.Finalizing != nil && res.Finalizing(obj)
		// Nothing holds it (no finalizer, no grace period left): it goes now.
		if len(finalizers) == 0 && !finalizing && (!graceful || grace == 0) {
			if opts.dryRun {
				return obj, true, nil
			}
			gone, err := s.removeObject(ctx, res, obj, kv.Rev)
			if errors.Is(err, storage.ErrConflict) && attempt < 5 {
				continue
			}
			return gone, err == nil, err
		}
		// Mark it: set the deletion timestamp (once; a shorter grace period
		// may bring it forward) and the finalizers.
		now := time.Now()
		dt := m.GetDeletionTimestamp()
		changed := false
		if dt == nil || (graceful && now.Add(time.Duration(grace)*time.Second).Before(dt.Time)) {
			t := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
			if !graceful {
				t = metav1.NewTime(now)
			}
			m.SetDeletionTimestamp(&t)
			g := grace
			m.SetDeletionGracePeriodSeconds(&g)
			changed = true
		}
		if dt == nil && res.PrepareForDelete != nil {
			before := m.GetFinalizers()
			res.PrepareForDelete(obj)
			// Finalizers the strategy adds hold the object too.
			for _, f := range m.GetFinalizers() {
				if !subset([]string{f}, before) {
					finalizers = withFinalizer(finalizers, f)
				}
			}
		}
		if !reflect.DeepEqual(finalizers, m.GetFinalizers()) {
			m.SetFinalizers(finalizers)
			changed = true
		}
		if !changed || opts.dryRun {
			return obj, false, nil
		}
		data, err := s.codec.forStore(res, obj)
		if err != nil {
			return nil, false, err
		}
		rev, err := s.store.Update(ctx, kv.Key, data, kv.Rev, nil, nil)
		if errors.Is(err, storage.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		setRV(obj, rev)
		return obj, false, nil
	}
}

// removeObject deletes the key of obj (at rev) and frees its claims.
func (s *Server) removeObject(ctx context.Context, res *registry.Resource, obj runtime.Object, rev int64) (runtime.Object, error) {
	m, _ := meta.Accessor(obj)
	var release []string
	if res.Claims != nil {
		release = res.Claims(obj)
	}
	drev, err := s.store.Delete(ctx, key(res, m.GetNamespace(), m.GetName()), rev, release)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, notFound(res, m.GetName())
	}
	if err != nil {
		return nil, err
	}
	setRV(obj, drev)
	return obj, nil
}

func withFinalizer(fs []string, f string) []string {
	for _, x := range fs {
		if x == f {
			return fs
		}
	}
	return append(append([]string(nil), fs...), f)
}

func withoutFinalizer(fs []string, f string) []string {
	var out []string
	for _, x := range fs {
		if x != f {
			out = append(out, x)
		}
	}
	return out
}

func deleteDetails(res *registry.Resource, obj runtime.Object) *metav1.StatusDetails {
	m, _ := meta.Accessor(obj)
	return &metav1.StatusDetails{Name: m.GetName(), Group: res.GVK.Group, Kind: res.Name, UID: m.GetUID()}
}

// parseDeleteOptions reads DeleteOptions from the body and query.
func (s *Server) parseDeleteOptions(r *http.Request) (deleteOptions, error) {
	body, err := readBody(r)
	if err != nil {
		return deleteOptions{}, err
	}
	var do metav1.DeleteOptions
	if len(body) > 0 {
		if err := s.codec.decodeInto(contentType(r), body, &do); err != nil {
			return deleteOptions{}, err
		}
	}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return deleteOptions{}, apierrors.NewBadRequest("invalid gracePeriodSeconds")
		}
		do.GracePeriodSeconds = &n
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		do.PropagationPolicy = &p
	}
	if v := q.Get("orphanDependents"); v != "" && do.PropagationPolicy == nil {
		p := metav1.DeletePropagationBackground
		if v == "true" {
			p = metav1.DeletePropagationOrphan
		}
		do.PropagationPolicy = &p
	}
	if p := do.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
		default:
			return deleteOptions{}, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("DeleteOptions").GroupKind(), "",
				field.ErrorList{field.NotSupported(field.NewPath("propagationPolicy"), *p, []string{"Foreground", "Background", "Orphan", "nil"})})
		}
	}
	if do.GracePeriodSeconds != nil && *do.GracePeriodSeconds < 0 {
		z := int64(1)
		do.GracePeriodSeconds = &z
	}
	dry := len(do.DryRun) > 0 || q.Get("dryRun") == "All"
	return deleteOptions{grace: do.GracePeriodSeconds, propagation: do.PropagationPolicy, precondition: do.Preconditions, dryRun: dry}, nil
}

// uidOf is a small helper for owner checks.
func uidOf(obj runtime.Object) types.UID {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetUID()
}
