package openapi

import (
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/kedge-dev/kedge/internal/registry"
)

// Input is what the documents describe.
type Input struct {
	// Resources are the served resources (registry.Registry.Resources()).
	Resources []*registry.Resource
	// Subresources lists the subresources of a resource as discovery
	// shows them ("pods/status", kind, group/version when not the
	// resource's, verbs). Nil: none.
	Subresources func(*registry.Resource) []metav1.APIResource
	// Scheme resolves the kinds of subresources (Scale, Binding, Eviction,
	// PodExecOptions...) and lists every group-version-kind a definition
	// is registered under (x-kubernetes-group-version-kind).
	Scheme *runtime.Scheme
	// Version is the info.version of the documents (the server's
	// gitVersion).
	Version string
	// CustomSchema returns the schema of a custom resource's kind (from
	// its CustomResourceDefinition; used in v2 and v3 alike), or nil: the
	// kind is then described as an object that keeps unknown fields.
	CustomSchema func(gvk schema.GroupVersionKind) *spec.Schema
	// CustomSchemaV2 is CustomSchema in the form the Swagger 2.0 document
	// publishes (no anyOf/allOf/oneOf/not, no nullable); nil: CustomSchema.
	// Both leave out apiVersion, kind and metadata, which the documents add.
	CustomSchemaV2 func(gvk schema.GroupVersionKind) *spec.Schema
}

// gvksByType maps Go types to the group-version-kinds they serve as.
func gvksByType(in Input) map[reflect.Type][]schema.GroupVersionKind {
	seen := map[schema.GroupVersionKind]bool{}
	out := map[reflect.Type][]schema.GroupVersionKind{}
	add := func(t reflect.Type, gvk schema.GroupVersionKind) {
		if gvk.Version == runtime.APIVersionInternal || seen[gvk] {
			return
		}
		seen[gvk] = true
		out[t] = append(out[t], gvk)
	}
	if in.Scheme != nil {
		for gvk, t := range in.Scheme.AllKnownTypes() {
			add(t, gvk)
		}
	}
	for _, res := range in.Resources {
		if _, ok := res.New().(runtime.Unstructured); ok {
			continue // custom resources: see customRef
		}
		add(reflect.TypeOf(res.New()).Elem(), res.GVK)
		if res.NewList != nil {
			add(reflect.TypeOf(res.NewList()).Elem(), res.GVK.GroupVersion().WithKind(res.GVK.Kind+"List"))
		}
	}
	for t, list := range out {
		out[t] = sortedGVKs(list)
	}
	return out
}

// GroupVersions lists the group versions of the resources, in order of
// first appearance.
func GroupVersions(resources []*registry.Resource) []schema.GroupVersion {
	seen := map[schema.GroupVersion]bool{}
	var out []schema.GroupVersion
	for _, res := range resources {
		gv := res.GVK.GroupVersion()
		if !seen[gv] {
			seen[gv] = true
			out = append(out, gv)
		}
	}
	return out
}

func pathsOf(in Input, gv schema.GroupVersion) map[string]*pathItem {
	b := newPathBuilder(in.Scheme, gv)
	b.apiResources()
	for _, res := range in.Resources {
		if res.GVK.GroupVersion() != gv {
			continue
		}
		var subs []metav1.APIResource
		if in.Subresources != nil {
			subs = in.Subresources(res)
		}
		b.resource(res, subs)
	}
	return b.finish()
}

// V3 builds the OpenAPI v3 document of one group version: its paths and
// the schemas they refer to.
func V3(in Input, gv schema.GroupVersion) *spec3.OpenAPI {
	return v3(in, gv, gvksByType(in))
}

func v3(in Input, gv schema.GroupVersion, gvks map[reflect.Type][]schema.GroupVersionKind) *spec3.OpenAPI {
	s := newSchemas(true, gvks)
	s.custom = in.CustomSchema
	doc := &spec3.OpenAPI{
		Version: "3.0.0",
		Info:    &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: in.Version}},
		Paths:   &spec3.Paths{Paths: map[string]*spec3.Path{}},
	}
	for path, item := range pathsOf(in, gv) {
		p := &spec3.Path{}
		for _, prm := range item.params {
			p.Parameters = append(p.Parameters, param3(prm))
		}
		for _, o := range item.ops {
			op := operation3(s, o, gv)
			*opSlot(o.method, &p.Get, &p.Put, &p.Post, &p.Patch, &p.Delete, &p.Head, &p.Options) = op
		}
		doc.Paths.Paths[path] = p
	}
	doc.Components = &spec3.Components{
		Schemas: s.defs,
		SecuritySchemes: spec3.SecuritySchemes{"BearerToken": &spec3.SecurityScheme{SecuritySchemeProps: spec3.SecuritySchemeProps{
			Type: "apiKey", Description: "Bearer Token authentication", Name: "authorization", In: "header",
		}}},
	}
	doc.SecurityRequirement = []map[string][]string{{"BearerToken": {}}}
	return doc
}

func param3(p param) *spec3.Parameter {
	return &spec3.Parameter{ParameterProps: spec3.ParameterProps{
		Name: p.name, In: p.in, Description: p.desc, Required: p.required,
		Schema: &spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{p.typ}, UniqueItems: true}},
	}}
}

func (s *schemas) bodySchema(k *kindRef) *spec.Schema {
	if k == stringBody {
		return &spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"string"}}}
	}
	var r spec.Schema
	if k.kind.Kind != "" {
		r = s.customRef(k.kind, k.list)
	} else {
		r = s.ref(k.t)
	}
	return &r
}

func operation3(s *schemas, o *operation, gv schema.GroupVersion) *spec3.Operation {
	op := &spec3.Operation{OperationProps: spec3.OperationProps{
		Description: o.desc, OperationId: o.id, Tags: []string{tagOf(gv)},
		Responses: &spec3.Responses{ResponsesProps: spec3.ResponsesProps{StatusCodeResponses: map[int]*spec3.Response{}}},
	}}
	for _, prm := range o.params {
		op.Parameters = append(op.Parameters, param3(prm))
	}
	if o.body != nil {
		body := s.bodySchema(o.body)
		content := map[string]*spec3.MediaType{}
		for _, mt := range o.consumes {
			content[mt] = &spec3.MediaType{MediaTypeProps: spec3.MediaTypeProps{Schema: body}}
		}
		op.RequestBody = &spec3.RequestBody{RequestBodyProps: spec3.RequestBodyProps{Content: content}}
	}
	for _, r := range o.resps {
		resp := &spec3.Response{ResponseProps: spec3.ResponseProps{Description: r.desc}}
		if r.body != nil {
			body := s.bodySchema(r.body)
			resp.Content = map[string]*spec3.MediaType{}
			for _, mt := range o.produces {
				resp.Content[mt] = &spec3.MediaType{MediaTypeProps: spec3.MediaTypeProps{Schema: body}}
			}
		}
		op.Responses.StatusCodeResponses[r.code] = resp
	}
	addOpExtensions(&op.VendorExtensible, o)
	return op
}

func addOpExtensions(v *spec.VendorExtensible, o *operation) {
	if o.action != "" {
		v.AddExtension("x-kubernetes-action", o.action)
	}
	if o.gvk != nil {
		v.AddExtension("x-kubernetes-group-version-kind", map[string]interface{}{
			"group": o.gvk.Group, "version": o.gvk.Version, "kind": o.gvk.Kind,
		})
	}
}

// V2 builds the OpenAPI v2 (Swagger) document of every group version.
func V2(in Input) *spec.Swagger {
	gvks := gvksByType(in)
	s := newSchemas(false, gvks)
	s.custom = in.CustomSchema
	if in.CustomSchemaV2 != nil {
		s.custom = in.CustomSchemaV2
	}
	doc := &spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger: "2.0",
		Info:    &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: in.Version}},
		Paths:   &spec.Paths{Paths: map[string]spec.PathItem{}},
		SecurityDefinitions: spec.SecurityDefinitions{"BearerToken": &spec.SecurityScheme{SecuritySchemeProps: spec.SecuritySchemeProps{
			Type: "apiKey", Description: "Bearer Token authentication", Name: "authorization", In: "header",
		}}},
		Security: []map[string][]string{{"BearerToken": {}}},
	}}
	for _, gv := range GroupVersions(in.Resources) {
		for path, item := range pathsOf(in, gv) {
			var p spec.PathItem
			for _, prm := range item.params {
				p.Parameters = append(p.Parameters, param2(prm))
			}
			for _, o := range item.ops {
				op := operation2(s, o, gv)
				*opSlot(o.method, &p.Get, &p.Put, &p.Post, &p.Patch, &p.Delete, &p.Head, &p.Options) = op
			}
			doc.Paths.Paths[path] = p
		}
	}
	doc.Definitions = spec.Definitions{}
	for name, d := range s.defs {
		doc.Definitions[name] = *d
	}
	return doc
}

func param2(p param) spec.Parameter {
	var out spec.Parameter
	out.Name, out.In, out.Description, out.Required = p.name, p.in, p.desc, p.required
	out.Type = p.typ
	out.UniqueItems = true
	return out
}

func operation2(s *schemas, o *operation, gv schema.GroupVersion) *spec.Operation {
	op := &spec.Operation{OperationProps: spec.OperationProps{
		Description: o.desc, Consumes: mediaAny, Produces: o.produces, Schemes: []string{"https"},
		Tags: []string{tagOf(gv)}, ID: o.id,
		Responses: &spec.Responses{ResponsesProps: spec.ResponsesProps{StatusCodeResponses: map[int]spec.Response{}}},
	}}
	if o.consumes != nil {
		op.Consumes = o.consumes
	}
	if o.body != nil {
		var body spec.Parameter
		body.Name, body.In, body.Required, body.Schema = "body", "body", true, s.bodySchema(o.body)
		op.Parameters = append(op.Parameters, body)
	}
	for _, prm := range o.params {
		op.Parameters = append(op.Parameters, param2(prm))
	}
	for _, r := range o.resps {
		resp := spec.Response{ResponseProps: spec.ResponseProps{Description: r.desc}}
		if r.body != nil {
			resp.Schema = s.bodySchema(r.body)
		}
		op.Responses.StatusCodeResponses[r.code] = resp
	}
	addOpExtensions(&op.VendorExtensible, o)
	return op
}

// opSlot picks the field of a path item (v2 or v3) that holds the operation
// of an HTTP method; an unknown method gets a slot that is thrown away.
func opSlot[T any](method string, get, put, post, patch, del, head, options *T) *T {
	switch method {
	case "get":
		return get
	case "put":
		return put
	case "post":
		return post
	case "patch":
		return patch
	case "delete":
		return del
	case "head":
		return head
	case "options":
		return options
	}
	return new(T)
}
