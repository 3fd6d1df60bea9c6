package apiextensions

import (
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// Structural is the structural part of a custom resource's schema: what
// pruning, defaulting and metadata handling walk. Value validations (enum,
// pattern, anyOf, ...) stay in the JSONSchemaProps the validator reads.
type Structural struct {
	Type     string
	Nullable bool
	// Default is the default value; nil when there is none.
	Default interface{}

	Properties map[string]*Structural
	Items      *Structural
	// Additional is additionalProperties; AdditionalSchema its schema (nil
	// for additionalProperties: true).
	Additional       bool
	AdditionalSchema *Structural

	PreserveUnknownFields bool
	EmbeddedResource      bool
	IntOrString           bool
	ListType              string
	ListMapKeys           []string
}

// NewStructural builds the structural schema of p (nil for nil). It fails
// on what a structural schema cannot hold: items given as an array, or a
// default that is not JSON.
func NewStructural(p *apiextensionsv1.JSONSchemaProps) (*Structural, error) {
	if p == nil {
		return nil, nil
	}
	s := &Structural{
		Type: p.Type, Nullable: p.Nullable,
		EmbeddedResource: p.XEmbeddedResource, IntOrString: p.XIntOrString,
		ListMapKeys: p.XListMapKeys,
	}
	if p.XPreserveUnknownFields != nil {
		s.PreserveUnknownFields = *p.XPreserveUnknownFields
	}
	if p.XListType != nil {
		s.ListType = *p.XListType
	}
	if p.Default != nil && len(p.Default.Raw) > 0 {
		// As unstructured objects hold JSON: whole numbers as int64.
		if err := utiljson.Unmarshal(p.Default.Raw, &s.Default); err != nil {
			return nil, fmt.Errorf("default: %w", err)
		}
	}
	if p.Items != nil {
		if len(p.Items.JSONSchemas) > 0 {
			return nil, fmt.Errorf("OpenAPIV3Schema 'items' must be a schema, but is an array")
		}
		items, err := NewStructural(p.Items.Schema)
		if err != nil {
			return nil, err
		}
		s.Items = items
	}
	if len(p.Properties) > 0 {
		s.Properties = make(map[string]*Structural, len(p.Properties))
		for k, v := range p.Properties {
			prop, err := NewStructural(&v)
			if err != nil {
				return nil, err
			}
			s.Properties[k] = prop
		}
	}
	if p.AdditionalProperties != nil {
		s.Additional = p.AdditionalProperties.Allows || p.AdditionalProperties.Schema != nil
		if p.AdditionalProperties.Schema != nil {
			add, err := NewStructural(p.AdditionalProperties.Schema)
			if err != nil {
				return nil, err
			}
			s.AdditionalSchema = add
		}
	}
	return s, nil
}

// field is the schema of a map key of an object of schema s, and whether
// the key is declared at all.
func (s *Structural) field(k string) (*Structural, bool) {
	if s == nil {
		return nil, false
	}
	if p, ok := s.Properties[k]; ok {
		return p, true
	}
	if s.Additional {
		return s.AdditionalSchema, true
	}
	return nil, false
}
