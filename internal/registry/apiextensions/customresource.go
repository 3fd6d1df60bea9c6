package apiextensions

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/util/jsonpath"
	"k8s.io/kube-openapi/pkg/validation/validate"

	"github.com/kedge-dev/kedge/internal/registry"
)

// ServeOptions say how the custom resources of a CRD are served.
type ServeOptions struct {
	// Terminating refuses creates: the CRD is being deleted.
	Terminating bool
	// StorageOnly returns the resource of the storage version alone,
	// served or not (to reach every stored object).
	StorageOnly bool
}

// versionSchema is what serving one version of a CRD needs of its schema.
type versionSchema struct {
	props      *apiextensionsv1.JSONSchemaProps
	structural *Structural
	validator  *validate.SchemaValidator
}

func newVersionSchema(v apiextensionsv1.CustomResourceDefinitionVersion) (*versionSchema, error) {
	vs := &versionSchema{}
	if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
		return vs, nil
	}
	vs.props = v.Schema.OpenAPIV3Schema
	s, err := NewStructural(vs.props)
	if err != nil {
		return nil, fmt.Errorf("version %s: %w", v.Name, err)
	}
	vs.structural = s
	vs.validator = newValidator(OpenAPI(vs.props))
	return vs, nil
}

// coerce prunes, drops nulls and defaults obj by the schema.
func (vs *versionSchema) coerce(obj map[string]interface{}) []string {
	unknown := Prune(obj, vs.structural)
	DropNulls(obj, vs.structural)
	Default(obj, vs.structural)
	return unknown
}

// VersionsByPriority sorts version names the way Kubernetes orders them
// (v1 > v1beta1 > v1alpha1).
func VersionsByPriority(versions []string) {
	sort.SliceStable(versions, func(i, j int) bool {
		return version.CompareKubeAwareVersionStrings(versions[i], versions[j]) > 0
	})
}

// CustomResources returns the resources that serve the served versions of
// crd, under its accepted names, highest version priority first. Every
// version shares the etcd keys /registry/<group>/<plural>/ and the stored
// form of the storage version; versions convert by changing apiVersion
// only (conversion strategy None).
func CustomResources(crd *apiextensionsv1.CustomResourceDefinition, opts ServeOptions) ([]*registry.Resource, error) {
	names := crd.Status.AcceptedNames
	if names.Kind == "" || names.Plural == "" {
		return nil, fmt.Errorf("customresourcedefinition %s has no accepted names", crd.Name)
	}
	group := crd.Spec.Group
	schemas := map[string]*versionSchema{}
	storageVersion := ""
	for _, v := range crd.Spec.Versions {
		vs, err := newVersionSchema(v)
		if err != nil {
			return nil, fmt.Errorf("customresourcedefinition %s: %w", crd.Name, err)
		}
		schemas[v.Name] = vs
		if v.Storage {
			storageVersion = v.Name
		}
	}
	if storageVersion == "" {
		return nil, fmt.Errorf("customresourcedefinition %s has no storage version", crd.Name)
	}
	storageGVK := schema.GroupVersionKind{Group: group, Version: storageVersion, Kind: names.Kind}
	var out []*registry.Resource
	for _, v := range crd.Spec.Versions {
		if (v.Served && !opts.StorageOnly) || (opts.StorageOnly && v.Storage) {
			out = append(out, customResource(crd, v, schemas, storageGVK, opts))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return version.CompareKubeAwareVersionStrings(out[i].GVK.Version, out[j].GVK.Version) > 0
	})
	return out, nil
}

func customResource(crd *apiextensionsv1.CustomResourceDefinition, v apiextensionsv1.CustomResourceDefinitionVersion,
	schemas map[string]*versionSchema, storageGVK schema.GroupVersionKind, opts ServeOptions) *registry.Resource {
	names := crd.Status.AcceptedNames
	gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: names.Kind}
	vs := schemas[v.Name]
	hasStatus := v.Subresources != nil && v.Subresources.Status != nil
	namespaced := crd.Spec.Scope == apiextensionsv1.NamespaceScoped
	newObj := func() runtime.Object {
		u := &unstructured.Unstructured{Object: map[string]interface{}{}}
		u.SetGroupVersionKind(gvk)
		return u
	}
	res := &registry.Resource{
		GVK: gvk, Name: names.Plural, Singular: names.Singular, ShortNames: names.ShortNames,
		Categories: names.Categories, Namespaced: namespaced, ListKind: names.ListKind,
		Status: hasStatus, Generation: true,
		New:     newObj,
		NewList: func() runtime.Object { return &unstructured.UnstructuredList{} },
		PrepareForCreate: func(obj runtime.Object) {
			if hasStatus {
				delete(obj.(*unstructured.Unstructured).Object, "status")
			}
		},
		Coerce: func(obj runtime.Object) ([]string, error) {
			u := obj.(*unstructured.Unstructured)
			metaUnknown, err := CoerceMeta(u.Object, vs.structural)
			if err != nil {
				return nil, err
			}
			return append(metaUnknown, vs.coerce(u.Object)...), nil
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateCustomResource(obj.(*unstructured.Unstructured), nil, gvk, vs, v.Subresources)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validateCustomResource(obj.(*unstructured.Unstructured), old.(*unstructured.Unstructured), gvk, vs, v.Subresources)
		},
		ValidateUpdateOnly: true,
		Storage: &registry.StorageAccess{
			Resource: crd.Spec.Group + "/" + names.Plural,
			GVK:      storageGVK,
			New:      func() runtime.Object { return &unstructured.Unstructured{} },
			ToStorage: func(obj runtime.Object) (runtime.Object, error) {
				u := obj.(*unstructured.Unstructured)
				u.SetAPIVersion(storageGVK.GroupVersion().String())
				return u, nil
			},
			FromStorage: func(stored runtime.Object) (runtime.Object, error) {
				u := stored.(*unstructured.Unstructured)
				if from, err := schema.ParseGroupVersion(u.GetAPIVersion()); err == nil && from.Group == gvk.Group {
					if fs, ok := schemas[from.Version]; ok && from.Version != gvk.Version {
						fs.coerce(u.Object)
					}
				}
				u.SetAPIVersion(gvk.GroupVersion().String())
				vs.coerce(u.Object)
				return u, nil
			},
		},
	}
	if opts.Terminating {
		res.BeforeCreate = func(_ context.Context, obj runtime.Object) (map[string]string, error) {
			return nil, apierrors.NewForbidden(res.GroupVersionResource().GroupResource(), obj.(*unstructured.Unstructured).GetName(),
				fmt.Errorf("create not allowed while custom resource definition is terminating"))
		}
	}
	if v.Deprecated {
		res.Warning = deprecationWarning(crd, v)
	}
	if v.Subresources != nil && v.Subresources.Scale != nil {
		res.Scale = scaleAccess(v.Subresources.Scale)
	}
	res.Fields = selectableFields(v.SelectableFields)
	res.Columns, res.Row = printerColumns(v.AdditionalPrinterColumns)
	return res
}

// deprecationWarning is upstream's warning for requests to a deprecated
// version: its own, or one that names the newest served version that is not
// deprecated.
func deprecationWarning(crd *apiextensionsv1.CustomResourceDefinition, v apiextensionsv1.CustomResourceDefinitionVersion) string {
	if v.DeprecationWarning != nil {
		return *v.DeprecationWarning
	}
	msg := fmt.Sprintf("%s/%s %s is deprecated", crd.Spec.Group, v.Name, crd.Spec.Names.Kind)
	var newer []string
	for _, o := range crd.Spec.Versions {
		if o.Served && !o.Deprecated && version.CompareKubeAwareVersionStrings(v.Name, o.Name) < 0 {
			newer = append(newer, o.Name)
		}
	}
	if len(newer) == 0 {
		return msg
	}
	VersionsByPriority(newer)
	return msg + fmt.Sprintf("; use %s/%s %s", crd.Spec.Group, newer[0], crd.Spec.Names.Kind)
}

// validateCustomResource checks a custom resource against its version's
// schema; on an update (old set), errors about values the update left
// unchanged are dropped (validation ratcheting).
func validateCustomResource(u, old *unstructured.Unstructured, gvk schema.GroupVersionKind, vs *versionSchema, sub *apiextensionsv1.CustomResourceSubresources) field.ErrorList {
	var errs field.ErrorList
	if u.GetKind() != gvk.Kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), u.GetKind(), "must be "+gvk.Kind))
	}
	if u.GetAPIVersion() != gvk.GroupVersion().String() {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), u.GetAPIVersion(), "must be "+gvk.GroupVersion().String()))
	}
	if len(errs) > 0 {
		return errs
	}
	schemaErrs := validateValue(nil, u.Object, vs.validator)
	if old != nil {
		schemaErrs = ratchet(schemaErrs, u.Object, old.Object)
	}
	errs = append(errs, schemaErrs...)
	if sub != nil && sub.Scale != nil {
		errs = append(errs, validateReplicas(u, sub.Scale.SpecReplicasPath)...)
		errs = append(errs, validateReplicas(u, sub.Scale.StatusReplicasPath)...)
		if p := sub.Scale.LabelSelectorPath; p != nil && *p != "" {
			if v, _, err := unstructured.NestedString(u.Object, splitPath(*p)...); err != nil {
				errs = append(errs, field.Invalid(field.NewPath(*p), v, err.Error()))
			}
		}
	}
	errs = append(errs, validateEmbedded(nil, u.Object, vs.structural, true)...)
	if old == nil || len(validateLists(nil, old.Object, vs.structural)) == 0 {
		errs = append(errs, validateLists(nil, u.Object, vs.structural)...)
	}
	return errs
}

func splitPath(p string) []string { return strings.Split(strings.TrimPrefix(p, "."), ".") }

func validateReplicas(u *unstructured.Unstructured, p string) field.ErrorList {
	n, _, err := unstructured.NestedInt64(u.Object, splitPath(p)...)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(field.NewPath(p), n, err.Error())}
	case n < 0:
		return field.ErrorList{field.Invalid(field.NewPath(p), n, "should be a non-negative integer")}
	case n > math.MaxInt32:
		return field.ErrorList{field.Invalid(field.NewPath(p), n, fmt.Sprintf("should be less than or equal to %v", math.MaxInt32))}
	}
	return nil
}

// scaleAccess reads and writes the replicas of the scale subresource at the
// CRD's JSON paths.
func scaleAccess(sc *apiextensionsv1.CustomResourceSubresourceScale) *registry.ScaleAccess {
	return &registry.ScaleAccess{
		Replicas: func(obj runtime.Object) (int32, int32, string) {
			u := obj.(*unstructured.Unstructured)
			spec, _, _ := unstructured.NestedInt64(u.Object, splitPath(sc.SpecReplicasPath)...)
			status, _, _ := unstructured.NestedInt64(u.Object, splitPath(sc.StatusReplicasPath)...)
			selector := ""
			if sc.LabelSelectorPath != nil && *sc.LabelSelectorPath != "" {
				selector, _, _ = unstructured.NestedString(u.Object, splitPath(*sc.LabelSelectorPath)...)
			}
			return int32(spec), int32(status), selector
		},
		SetReplicas: func(obj runtime.Object, n int32) {
			u := obj.(*unstructured.Unstructured)
			_ = unstructured.SetNestedField(u.Object, int64(n), splitPath(sc.SpecReplicasPath)...)
		},
	}
}

// selectableFields returns the field selectors of a version: its declared
// selectable fields (metadata.name and, when namespaced, metadata.namespace
// are always selectable).
func selectableFields(declared []apiextensionsv1.SelectableField) func(runtime.Object) fields.Set {
	type selectable struct {
		name string
		path *jsonpath.JSONPath
	}
	var list []selectable
	for _, f := range declared {
		jp := jsonpath.New("selectableField").AllowMissingKeys(true)
		if err := jp.Parse("{" + f.JSONPath + "}"); err != nil {
			continue
		}
		list = append(list, selectable{name: strings.TrimPrefix(f.JSONPath, "."), path: jp})
	}
	return func(obj runtime.Object) fields.Set {
		set := fields.Set{}
		u, _ := obj.(*unstructured.Unstructured)
		for _, f := range list {
			set[f.name] = ""
			if u == nil {
				continue
			}
			results, err := f.path.FindResults(u.Object)
			if err == nil && len(results) > 0 && len(results[0]) > 0 {
				if v := results[0][0].Interface(); v != nil {
					set[f.name] = fmt.Sprint(v)
				}
			}
		}
		return set
	}
}

var metadataDocs = metav1.ObjectMeta{}.SwaggerDoc()

// printerColumns are the Table columns of a version: NAME, then the
// additionalPrinterColumns, or AGE when it declares none.
func printerColumns(cols []apiextensionsv1.CustomResourceColumnDefinition) ([]metav1.TableColumnDefinition, func(runtime.Object) []interface{}) {
	if len(cols) == 0 {
		cols = []apiextensionsv1.CustomResourceColumnDefinition{{Name: "Age", Type: "date",
			Description: metadataDocs["creationTimestamp"], JSONPath: ".metadata.creationTimestamp"}}
	}
	defs := []metav1.TableColumnDefinition{{Name: "Name", Type: "string", Format: "name", Description: metadataDocs["name"]}}
	paths := make([]*jsonpath.JSONPath, len(cols))
	for i, c := range cols {
		desc := c.Description
		if desc == "" {
			desc = "Custom resource definition column (in JSONPath format): " + c.JSONPath
		}
		defs = append(defs, metav1.TableColumnDefinition{Name: c.Name, Type: c.Type, Format: c.Format, Description: desc, Priority: c.Priority})
		jp := jsonpath.New(c.Name).AllowMissingKeys(true)
		if err := jp.Parse("{" + c.JSONPath + "}"); err == nil {
			paths[i] = jp
		}
	}
	row := func(obj runtime.Object) []interface{} {
		u := obj.(*unstructured.Unstructured)
		cells := []interface{}{u.GetName()}
		for i, c := range cols {
			cells = append(cells, cell(paths[i], c.Type, u.Object))
		}
		return cells
	}
	return defs, row
}

// cell prints one column of an object as upstream does: strings as the
// JSONPath prints them, dates as ages, numbers and booleans as JSON values,
// nothing (<none>) when the path finds nothing.
func cell(jp *jsonpath.JSONPath, typ string, obj map[string]interface{}) interface{} {
	if jp == nil {
		return nil
	}
	results, err := jp.FindResults(obj)
	if err != nil || len(results) == 0 || len(results[0]) == 0 {
		return nil
	}
	value := results[0][0].Interface()
	if typ == "string" {
		var buf bytes.Buffer
		if err := jp.PrintResults(&buf, []reflect.Value{reflect.ValueOf(value)}); err != nil {
			return nil
		}
		return buf.String()
	}
	if value == nil {
		return nil
	}
	switch typ {
	case "integer":
		switch n := value.(type) {
		case int64:
			return n
		case float64:
			return int64(n)
		}
	case "number":
		switch n := value.(type) {
		case int64:
			return float64(n)
		case float64:
			return n
		}
	case "boolean":
		if b, ok := value.(bool); ok {
			return b
		}
	case "date":
		if s, ok := value.(string); ok {
			var t metav1.Time
			if err := t.UnmarshalQueryParameter(s); err != nil {
				return "<invalid>"
			}
			return registry.Age(t)
		}
	}
	return nil
}
