package apiextensions

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// PublishedSchema is the schema of a CRD version as the OpenAPI documents
// publish it (for kubectl explain and client-side tools), without the
// apiVersion, kind and metadata every resource has: x-kubernetes-int-or-
// string fields carry no type, and in v3 an anyOf of integer and string.
// The Swagger 2.0 form (v2) has no junctors (anyOf, allOf, oneOf, not), and
// drops what 2.0 cannot say: nullable fields lose their type, objects that
// keep unknown fields their properties. Nil when the version has no schema.
func PublishedSchema(crd *apiextensionsv1.CustomResourceDefinition, version string, v2 bool) *spec.Schema {
	for _, v := range crd.Spec.Versions {
		if v.Name == version && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			return published(v.Schema.OpenAPIV3Schema, v2)
		}
	}
	return nil
}

var intOrString = []spec.Schema{
	{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"integer"}}},
	{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"string"}}},
}

func published(p *apiextensionsv1.JSONSchemaProps, v2 bool) *spec.Schema {
	if p == nil {
		return nil
	}
	out := OpenAPI(p)
	out.Format = p.Format // published as declared, not as validated
	publishNode(out, p, v2)
	return out
}

// publishNode rewrites the structural part of a converted schema in place.
func publishNode(out *spec.Schema, p *apiextensionsv1.JSONSchemaProps, v2 bool) {
	if p.XIntOrString {
		out.Type = nil
		if !v2 {
			switch {
			case intOrStringAnyOf(p.AnyOf) || (len(p.AllOf) > 0 && intOrStringAnyOf(p.AllOf[0].AnyOf)):
			case len(out.AnyOf) == 0:
				out.AnyOf = intOrString
			default:
				out.AllOf = append([]spec.Schema{{SchemaProps: spec.SchemaProps{AnyOf: intOrString}}}, out.AllOf...)
			}
		}
	}
	for k := range out.Properties {
		prop, child := out.Properties[k], p.Properties[k]
		prop.Format = child.Format
		publishNode(&prop, &child, v2)
		out.Properties[k] = prop
	}
	if out.Items != nil && out.Items.Schema != nil && p.Items != nil && p.Items.Schema != nil {
		out.Items.Schema.Format = p.Items.Schema.Format
		publishNode(out.Items.Schema, p.Items.Schema, v2)
	}
	if ap := out.AdditionalProperties; ap != nil && ap.Schema != nil && p.AdditionalProperties.Schema != nil {
		ap.Schema.Format = p.AdditionalProperties.Schema.Format
		publishNode(ap.Schema, p.AdditionalProperties.Schema, v2)
	}
	if !v2 {
		return
	}
	out.AllOf, out.OneOf, out.AnyOf, out.Not = nil, nil, nil, nil
	preserve := p.XPreserveUnknownFields != nil && *p.XPreserveUnknownFields
	if p.Nullable {
		out.Type, out.Nullable, out.Items, out.Properties = nil, false, nil, nil
	}
	if preserve {
		out.Items, out.Properties = nil, nil
		if len(out.Type) == 1 && out.Type[0] == "object" {
			out.Type = nil
		}
	}
	if out.Items == nil && len(out.Type) == 1 && out.Type[0] == "array" {
		out.Type = nil
	}
	var required []string
	for _, r := range out.Required {
		if prop, ok := p.Properties[r]; !ok || !prop.Nullable {
			required = append(required, r)
		}
	}
	out.Required = required
	if p.AdditionalProperties != nil && p.AdditionalProperties.Schema != nil && p.AdditionalProperties.Schema.Nullable {
		out.Required = nil
	}
}
