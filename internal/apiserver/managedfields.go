package apiserver

// Field management: every create, update and patch records in
// metadata.managedFields which manager set which fields, as kube-apiserver
// does, with k8s.io/apimachinery/pkg/util/managedfields.
//
//	request ──► manager: ?fieldManager=, else the User-Agent up to its first "/"
//	            (kubectl/v1.32.0 (linux/amd64) ... → "kubectl"); writes the
//	            server makes on its own are "kube-apiserver"
//	create, update, patch ──► FieldManager.UpdateNoErrors(live, new, manager)
//	                           operation Update; never fails the write
//	apply (apply.go)      ──► FieldManager.Apply(live, config, manager, force)
//	                           operation Apply; conflicts are 409
//
// There is one FieldManager per kind and subresource ("", "status",
// "scale"), built on first use and kept. The built-in kinds share one type
// converter, built once from their OpenAPI v3 definitions (openapi.Models,
// what upstream builds its converter from: the defaults there fill in the
// keys of list items); a custom resource's is built from its CRD's schemas;
// a kind without a schema gets a deduced one (every list atomic). The
// status subresource owns only .status; the main resource of a kind with a
// status subresource never owns .status.
//
// Cost on the hot path: a create compares the new object with an empty one
// (as a map, cheaper to walk than an empty Go object), and the fields a
// create records are remembered by the object's content, so the pods a
// controller makes from one template cost one JSON encoding each.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kube-openapi/pkg/schemaconv"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/kedge-dev/kedge/internal/apiserver/openapi"
	"github.com/kedge-dev/kedge/internal/registry"
)

// serverManager is the manager of writes the API server makes on its own
// (bootstrap objects), as upstream's loopback client names itself.
const serverManager = "kube-apiserver"

var scaleGVK = schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}

type fieldsCtxKey int

const (
	managerCtxKey fieldsCtxKey = iota
	trackedCtxKey
)

// withManager records the manager of the request's writes.
func withManager(ctx context.Context, manager string) context.Context {
	return context.WithValue(ctx, managerCtxKey, manager)
}

// managerFrom is the manager of a write: the request's, or the server's.
func managerFrom(ctx context.Context) string {
	if m, ok := ctx.Value(managerCtxKey).(string); ok {
		return m
	}
	return serverManager
}

// withFieldsTracked says the object of a write already carries its new
// managedFields (an apply, a scale write): create and update keep them.
func withFieldsTracked(ctx context.Context) context.Context {
	return context.WithValue(ctx, trackedCtxKey, true)
}

func fieldsTracked(ctx context.Context) bool {
	v, _ := ctx.Value(trackedCtxKey).(bool)
	return v
}

// requestManager is the manager named by a request: its fieldManager, or
// the part of its User-Agent before the first "/", printable characters
// only, at most 128 bytes.
func requestManager(r *http.Request) string {
	if m := r.URL.Query().Get("fieldManager"); m != "" {
		return m
	}
	return managerFromUserAgent(r.UserAgent())
}

func managerFromUserAgent(ua string) string {
	prefix, _, _ := strings.Cut(ua, "/")
	var b strings.Builder
	for _, c := range prefix {
		if !unicode.IsPrint(c) {
			continue
		}
		if b.Len()+utf8.RuneLen(c) > metav1validation.FieldManagerMaxLength {
			break
		}
		b.WriteRune(c)
	}
	return b.String()
}

// validateWriteOptions checks the options of a create or update as upstream
// does (fieldManager, dryRun, fieldValidation): 422 with the options' kind.
func validateWriteOptions(r *http.Request, verb string) error {
	q := r.URL.Query()
	var errs field.ErrorList
	kind := "CreateOptions"
	switch verb {
	case "create":
		errs = metav1validation.ValidateCreateOptions(&metav1.CreateOptions{
			FieldManager: q.Get("fieldManager"), DryRun: q["dryRun"], FieldValidation: q.Get("fieldValidation")})
	case "update":
		kind = "UpdateOptions"
		errs = metav1validation.ValidateUpdateOptions(&metav1.UpdateOptions{
			FieldManager: q.Get("fieldManager"), DryRun: q["dryRun"], FieldValidation: q.Get("fieldValidation")})
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: kind}, "", errs)
	}
	return nil
}

// fieldManagers builds and keeps the FieldManager of each kind and
// subresource. The zero value is ready to use.
type fieldManagers struct {
	once  sync.Once
	typed *typeConverter // the built-in kinds'; nil if it could not be built

	mu   sync.Mutex
	byID map[fieldManagerID]fieldManagerEntry
}

type fieldManagerID struct {
	gvk         schema.GroupVersionKind
	subresource string
}

type fieldManagerEntry struct {
	res *registry.Resource // a resource replaced in the registry gets a new manager
	fm  *managedfields.FieldManager
	// empty is an empty object of the kind, as JSON would show it: what a
	// create compares the new object with. Comparing with this map costs
	// less than walking an empty Go object, and finds the same fields.
	empty map[string]interface{}
	// created remembers the managed fields of recent creates by content.
	created *createdFields
}

// fieldManager returns the FieldManager of res (subresource "", "status" or
// "scale").
func (s *Server) fieldManager(res *registry.Resource, subresource string) (*managedfields.FieldManager, error) {
	e, err := s.fieldManagerEntry(res, subresource)
	return e.fm, err
}

func (s *Server) fieldManagerEntry(res *registry.Resource, subresource string) (fieldManagerEntry, error) {
	f := &s.fields
	id := fieldManagerID{gvk: res.GVK, subresource: subresource}
	f.mu.Lock()
	e, ok := f.byID[id]
	f.mu.Unlock()
	if ok && e.res == res {
		return e, nil
	}
	fm, err := s.newFieldManager(res, subresource)
	if err != nil {
		return e, err
	}
	empty, err := runtime.DefaultUnstructuredConverter.ToUnstructured(res.New())
	if err != nil {
		return e, err
	}
	e = fieldManagerEntry{res: res, fm: fm, empty: empty, created: &createdFields{}}
	f.mu.Lock()
	if f.byID == nil {
		f.byID = map[fieldManagerID]fieldManagerEntry{}
	}
	f.byID[id] = e
	f.mu.Unlock()
	return e, nil
}

func (s *Server) newFieldManager(res *registry.Resource, subresource string) (*managedfields.FieldManager, error) {
	kind := res.GVK
	if subresource == "scale" {
		kind = scaleGVK
	}
	version := fieldpath.APIVersion(kind.GroupVersion().String())
	var reset map[fieldpath.APIVersion]fieldpath.Filter
	switch {
	case subresource == "status":
		reset = map[fieldpath.APIVersion]fieldpath.Filter{
			version: fieldpath.NewIncludeMatcherFilter(fieldpath.MakePrefixMatcherOrDie("status"))}
	case subresource == "" && res.Status:
		reset = map[fieldpath.APIVersion]fieldpath.Filter{
			version: fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie("status")))}
	}
	conv := objectConvertor{s}
	if _, custom := res.New().(runtime.Unstructured); custom {
		return managedfields.NewDefaultCRDFieldManager(s.customTypeConverter(res), conv, conv, conv,
			kind, hubOf(kind.GroupVersion()), subresource, reset)
	}
	return managedfields.NewDefaultFieldManager(s.builtinTypeConverter(kind), conv, conv, conv,
		kind, hubOf(kind.GroupVersion()), subresource, reset)
}

// builtinTypeConverter returns the converter of the built-in kinds if it knows
// kind, else a deduced one.
func (s *Server) builtinTypeConverter(kind schema.GroupVersionKind) managedfields.TypeConverter {
	f := &s.fields
	f.once.Do(func() {
		var typed []*registry.Resource
		for _, res := range s.reg.Resources() {
			if _, custom := res.New().(runtime.Unstructured); !custom {
				typed = append(typed, res)
			}
		}
		models := openapi.Models(openapi.Input{Resources: typed, Subresources: subresources, Scheme: scheme.Scheme})
		tc, err := newTypeConverter(models)
		if err != nil {
			slog.Error("server-side apply: no type converter for the built-in kinds", "err", err)
			return
		}
		f.typed = tc
	})
	if f.typed != nil {
		if obj, err := (objectConvertor{s}).New(kind); err == nil {
			if _, err := f.typed.ObjectToTyped(obj); err == nil {
				return f.typed
			}
		}
	}
	return managedfields.NewDeducedTypeConverter()
}

// customTypeConverter returns the converter of a custom resource's
// schemas (of every version its CustomResourceDefinition serves), or a
// deduced one for a kind without a schema.
func (s *Server) customTypeConverter(res *registry.Resource) managedfields.TypeConverter {
	if s.crds == nil || s.crds.schema(res.GVK, false) == nil {
		return managedfields.NewDeducedTypeConverter()
	}
	// Every served version: managed fields recorded in one are converted
	// to another.
	var versions []*registry.Resource
	for _, r := range s.reg.Resources() {
		if r.GVK.GroupKind() == res.GVK.GroupKind() && s.crds.schema(r.GVK, false) != nil {
			versions = append(versions, r)
		}
	}
	models := openapi.Models(openapi.Input{Resources: versions,
		CustomSchema: func(gvk schema.GroupVersionKind) *spec.Schema { return s.crds.schema(gvk, false) }})
	tc, err := newTypeConverter(models)
	if err != nil {
		slog.Error("server-side apply: no type converter for a custom resource", "kind", res.GVK, "err", err)
		return managedfields.NewDeducedTypeConverter()
	}
	if _, ok := tc.parsers[res.GVK]; !ok {
		return managedfields.NewDeducedTypeConverter()
	}
	return tc
}

// trackFields records the fields a create or update sets (operation
// Update, by the request's manager) in obj's managedFields, from live (nil
// on create). Like upstream it never fails a write: on error obj keeps the
// live object's managed fields.
func (s *Server) trackFields(ctx context.Context, res *registry.Resource, mode updateMode, live, obj runtime.Object) runtime.Object {
	if fieldsTracked(ctx) {
		return obj
	}
	sub := ""
	if mode == updateStatus && res.Status {
		sub = "status"
	}
	e, err := s.fieldManagerEntry(res, sub)
	if err != nil {
		slog.Error("managed fields", "resource", res.Name, "err", err)
		return obj
	}
	manager := managerFrom(ctx)
	obj.GetObjectKind().SetGroupVersionKind(res.GVK)
	if live != nil {
		live.GetObjectKind().SetGroupVersionKind(res.GVK)
		return e.fm.UpdateNoErrors(live, obj, manager)
	}
	// A create: the same content (controllers create many pods from one
	// template) gives the same fields, remembered by content.
	m, err := meta.Accessor(obj)
	if err != nil || m.GetManagedFields() != nil {
		live = &unstructured.Unstructured{Object: runtime.DeepCopyJSON(e.empty)}
		live.GetObjectKind().SetGroupVersionKind(res.GVK)
		return e.fm.UpdateNoErrors(live, obj, manager)
	}
	key, ok := createKey(manager, obj, m)
	if entries, hit := e.created.get(key); ok && hit {
		now := metav1.NewTime(time.Now().UTC())
		for i := range entries {
			entries[i].Time = &now
		}
		m.SetManagedFields(entries)
		return obj
	}
	live = &unstructured.Unstructured{Object: runtime.DeepCopyJSON(e.empty)}
	live.GetObjectKind().SetGroupVersionKind(res.GVK)
	obj = e.fm.UpdateNoErrors(live, obj, manager)
	if ok {
		if m, err := meta.Accessor(obj); err == nil {
			e.created.put(key, m.GetManagedFields())
		}
	}
	return obj
}

// createdFields remembers the managed fields of the creates of one kind by
// the content of their objects, at most maxCreated of them.
type createdFields struct {
	mu        sync.Mutex
	byContent map[string][]metav1.ManagedFieldsEntry
}

const maxCreated = 256

// createKey identifies what the managed fields of a create of a kind
// depend on: the manager and the object's content but for the metadata the
// field managers never record (name, namespace, uid, creation time,
// resourceVersion, generation).
func createKey(manager string, obj runtime.Object, m metav1.Object) (string, bool) {
	name, ns, uid, rv, gen, created := m.GetName(), m.GetNamespace(), m.GetUID(), m.GetResourceVersion(), m.GetGeneration(), m.GetCreationTimestamp()
	m.SetName("")
	m.SetNamespace("")
	m.SetUID("")
	m.SetResourceVersion("")
	m.SetGeneration(0)
	m.SetCreationTimestamp(metav1.Time{})
	raw, err := json.Marshal(obj)
	m.SetName(name)
	m.SetNamespace(ns)
	m.SetUID(uid)
	m.SetResourceVersion(rv)
	m.SetGeneration(gen)
	m.SetCreationTimestamp(created)
	if err != nil {
		return "", false
	}
	return manager + "\x00" + string(raw), true
}

// get returns a copy of the managed fields remembered for a create.
func (f *createdFields) get(key string) ([]metav1.ManagedFieldsEntry, bool) {
	f.mu.Lock()
	entries, ok := f.byContent[key]
	f.mu.Unlock()
	if !ok {
		return nil, false
	}
	out := make([]metav1.ManagedFieldsEntry, len(entries))
	for i := range entries {
		entries[i].DeepCopyInto(&out[i])
	}
	return out, true
}

func (f *createdFields) put(key string, entries []metav1.ManagedFieldsEntry) {
	saved := make([]metav1.ManagedFieldsEntry, len(entries))
	for i := range entries {
		entries[i].DeepCopyInto(&saved[i])
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byContent == nil {
		f.byContent = map[string][]metav1.ManagedFieldsEntry{}
	}
	for k := range f.byContent {
		if len(f.byContent) < maxCreated {
			break
		}
		delete(f.byContent, k)
	}
	f.byContent[key] = saved
}

// objectConvertor converts, defaults and creates the objects the field
// managers work on: the typed objects of the registry, the unstructured
// objects the merge produces, and autoscaling/v1 Scale.
type objectConvertor struct{ s *Server }

func (c objectConvertor) resourceFor(gvk schema.GroupVersionKind) *registry.Resource {
	for _, res := range c.s.reg.Resources() {
		if res.GVK == gvk {
			return res
		}
	}
	return nil
}

// New returns an empty object of a kind, with its apiVersion and kind set.
func (c objectConvertor) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	var obj runtime.Object
	if res := c.resourceFor(gvk); res != nil {
		obj = res.New()
	} else {
		var err error
		if obj, err = scheme.Scheme.New(gvk); err != nil {
			return nil, err
		}
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}

// Default does nothing: the field managers call it on the unstructured
// result of an apply, which create and update default once it is typed.
func (c objectConvertor) Default(runtime.Object) {}

// hubOf is the version the field managers hand their results in (the
// "internal" version upstream's scheme has): here, the typed object of the
// version the request was made in.
func hubOf(gv schema.GroupVersion) schema.GroupVersion {
	return schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal}
}

// ConvertToVersion converts between the versions of a kind that share
// storage; conversion to the hub (hubOf) turns an unstructured object into
// the typed one of the same kind and version. Conversion to an object's
// own version returns it as it is, unstructured or not: a create compares
// against an empty unstructured object, which is cheaper to walk than an
// empty typed one.
func (c objectConvertor) ConvertToVersion(in runtime.Object, target runtime.GroupVersioner) (runtime.Object, error) {
	from := in.GetObjectKind().GroupVersionKind()
	to, ok := target.KindForGroupVersionKinds([]schema.GroupVersionKind{from})
	if !ok {
		return nil, runtime.NewNotRegisteredGVKErrForTarget("kedge", from, target)
	}
	if from == to {
		return in, nil
	}
	obj := in
	if u, ok := in.(runtime.Unstructured); ok {
		var err error
		if obj, err = c.typed(u, from); err != nil {
			return nil, err
		}
	}
	if to.Version == runtime.APIVersionInternal {
		return obj, nil
	}
	src, dst := c.resourceFor(from), c.resourceFor(to)
	if src == nil || dst == nil || src.KeyResource() != dst.KeyResource() {
		return nil, runtime.NewNotRegisteredGVKErrForTarget("kedge", from, target)
	}
	var err error
	if src.Storage != nil {
		if obj, err = src.Storage.ToStorage(obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	if dst.Storage != nil {
		if obj, err = dst.Storage.FromStorage(obj); err != nil {
			return nil, err
		}
	}
	if reflect.TypeOf(obj) != reflect.TypeOf(dst.New()) {
		return nil, runtime.NewNotRegisteredGVKErrForTarget("kedge", from, target)
	}
	obj.GetObjectKind().SetGroupVersionKind(to)
	return obj, nil
}

// typed decodes an unstructured object into the Go type of its kind; custom
// resources stay unstructured.
func (c objectConvertor) typed(u runtime.Unstructured, gvk schema.GroupVersionKind) (runtime.Object, error) {
	obj, err := c.New(gvk)
	if err != nil {
		return nil, err
	}
	if _, ok := obj.(runtime.Unstructured); ok {
		return u.(runtime.Object), nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), obj); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}

// Convert is not used by the field managers.
func (c objectConvertor) Convert(in, out, context interface{}) error {
	return runtime.NewNotRegisteredErrForType("kedge", reflect.TypeOf(in))
}

// ConvertFieldLabel is not used by the field managers.
func (c objectConvertor) ConvertFieldLabel(gvk schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

// typeConverter converts objects to structured-merge-diff typed values
// with the schemas of the OpenAPI definitions, like the library's
// managedfields.NewTypeConverter, but trusts Go-typed objects to match the
// schema generated from their own types and so skips validating them: it
// is a fifth of the cost of recording managed fields on every write.
// Unstructured objects (apply configurations, custom resources) are
// validated, which reports fields a schema does not declare.
type typeConverter struct {
	parsers map[schema.GroupVersionKind]*typed.ParseableType
}

func newTypeConverter(models map[string]*spec.Schema) (*typeConverter, error) {
	s, err := schemaconv.ToSchemaFromOpenAPI(models, false)
	if err != nil {
		return nil, fmt.Errorf("convert the OpenAPI definitions to a schema: %w", err)
	}
	parser := &typed.Parser{Schema: smdschema.Schema{Types: s.Types}}
	tc := &typeConverter{parsers: map[schema.GroupVersionKind]*typed.ParseableType{}}
	for name, model := range models {
		list, _ := model.Extensions["x-kubernetes-group-version-kind"].([]interface{})
		for _, item := range list {
			m, _ := item.(map[string]interface{})
			group, _ := m["group"].(string)
			version, _ := m["version"].(string)
			kind, _ := m["kind"].(string)
			if kind == "" {
				continue
			}
			pt := parser.Type(name)
			tc.parsers[schema.GroupVersionKind{Group: group, Version: version, Kind: kind}] = &pt
		}
	}
	return tc, nil
}

func (c *typeConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	pt := c.parsers[gvk]
	if pt == nil {
		return nil, fmt.Errorf("no corresponding type for %v", gvk)
	}
	if u, ok := obj.(runtime.Unstructured); ok {
		return pt.FromUnstructured(u.UnstructuredContent(), opts...)
	}
	v, err := value.NewValueReflect(obj)
	if err != nil {
		return nil, fmt.Errorf("error creating struct value reflector: %v", err)
	}
	return typed.AsTypedUnvalidated(v, pt.Schema, pt.TypeRef), nil //nolint:staticcheck // see typeConverter
}

func (c *typeConverter) TypedToObject(tv *typed.TypedValue) (runtime.Object, error) {
	m, ok := tv.AsValue().Unstructured().(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("failed to convert value to unstructured for type %T", tv.AsValue().Unstructured())
	}
	return &unstructured.Unstructured{Object: m}, nil
}
