package apiextensions

import (
	"fmt"
	"sort"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	kjson "sigs.k8s.io/json"
)

// The fields every resource (the root, and x-kubernetes-embedded-resource
// objects) has without declaring them.
var metaFields = map[string]bool{"apiVersion": true, "kind": true, "metadata": true}

// Prune drops from obj, the content of a custom resource, every field its
// schema s does not declare, and returns their paths ("spec.foo",
// "spec.items[0].bar") in order. Objects under
// x-kubernetes-preserve-unknown-fields keep theirs; apiVersion, kind and
// metadata of the root and of embedded resources are always known.
func Prune(obj map[string]interface{}, s *Structural) []string {
	root := &Structural{EmbeddedResource: true}
	if s != nil {
		c := *s
		c.EmbeddedResource = true
		root = &c
	}
	var unknown []string
	prune(obj, root, "", &unknown)
	sort.Strings(unknown)
	return unknown
}

func child(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func prune(x interface{}, s *Structural, path string, unknown *[]string) {
	if s != nil && s.PreserveUnknownFields {
		pruneDeclared(x, s, path, unknown)
		return
	}
	switch x := x.(type) {
	case map[string]interface{}:
		for k, v := range x {
			if s != nil && s.EmbeddedResource && metaFields[k] {
				continue
			}
			if sub, ok := s.field(k); ok {
				prune(v, sub, child(path, k), unknown)
				continue
			}
			*unknown = append(*unknown, child(path, k))
			delete(x, k)
		}
	case []interface{}:
		var items *Structural
		if s != nil {
			items = s.Items
		}
		for i, v := range x {
			prune(v, items, index(path, i), unknown)
		}
	}
}

// pruneDeclared prunes below the declared fields of an object that keeps
// its unknown fields.
func pruneDeclared(x interface{}, s *Structural, path string, unknown *[]string) {
	switch x := x.(type) {
	case map[string]interface{}:
		for k, v := range x {
			if s.EmbeddedResource && metaFields[k] {
				continue
			}
			if sub, ok := s.field(k); ok {
				prune(v, sub, child(path, k), unknown)
			}
		}
	case []interface{}:
		if s.Items == nil {
			return
		}
		for i, v := range x {
			pruneDeclared(v, s.Items, index(path, i), unknown)
		}
	}
}

// DropNulls removes null values that their schema neither allows
// (nullable) nor replaces (default): a client sending "field": null means
// "not set".
func DropNulls(x interface{}, s *Structural) {
	switch x := x.(type) {
	case map[string]interface{}:
		for k, v := range x {
			sub, _ := s.field(k)
			if v == nil && sub != nil && !sub.Nullable && sub.Default == nil {
				delete(x, k)
				continue
			}
			DropNulls(v, sub)
		}
	case []interface{}:
		var items *Structural
		if s != nil {
			items = s.Items
		}
		for _, v := range x {
			DropNulls(v, items)
		}
	}
}

// Default sets the schema's defaults in x: a declared field that is missing
// (or null without being nullable) takes its default, at every level.
func Default(x interface{}, s *Structural) {
	if s == nil {
		return
	}
	nonNullableNull := func(v interface{}, s *Structural) bool { return v == nil && s != nil && !s.Nullable }
	switch x := x.(type) {
	case map[string]interface{}:
		for k, prop := range s.Properties {
			if prop.Default == nil {
				continue
			}
			if v, found := x[k]; !found || nonNullableNull(v, prop) {
				x[k] = runtime.DeepCopyJSONValue(prop.Default)
			}
		}
		for k, v := range x {
			if prop, ok := s.Properties[k]; ok {
				Default(v, prop)
			} else if s.Additional && s.AdditionalSchema != nil {
				if nonNullableNull(v, s.AdditionalSchema) && s.AdditionalSchema.Default != nil {
					x[k] = runtime.DeepCopyJSONValue(s.AdditionalSchema.Default)
				}
				Default(x[k], s.AdditionalSchema)
			}
		}
	case []interface{}:
		for i, v := range x {
			if nonNullableNull(v, s.Items) && s.Items.Default != nil {
				x[i] = runtime.DeepCopyJSONValue(s.Items.Default)
			}
			Default(x[i], s.Items)
		}
	}
}

// CoerceMeta makes the metadata of obj (and of the embedded resources its
// schema declares) well-formed ObjectMeta, dropping what ObjectMeta does not
// have; it returns the paths of the dropped fields ("metadata.foo").
// Metadata that is not ObjectMeta at all is an error.
func CoerceMeta(obj map[string]interface{}, s *Structural) ([]string, error) {
	var unknown []string
	if err := coerceMeta(obj, "", &unknown); err != nil {
		return unknown, err
	}
	err := coerceEmbedded(obj, s, "", &unknown)
	sort.Strings(unknown)
	return unknown, err
}

func coerceMeta(obj map[string]interface{}, path string, unknown *[]string) error {
	raw, found := obj["metadata"]
	if !found {
		return nil
	}
	b, err := utiljson.Marshal(raw)
	if err != nil {
		return err
	}
	var om metav1.ObjectMeta
	strict, err := kjson.UnmarshalStrict(b, &om)
	if err != nil {
		return fmt.Errorf("%s: %w", child(path, "metadata"), err)
	}
	for _, e := range strict {
		if fe, ok := e.(kjson.FieldError); ok {
			*unknown = append(*unknown, child(path, "metadata")+"."+fe.FieldPath())
		}
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&om)
	if err != nil {
		return err
	}
	if v, ok := m["creationTimestamp"]; ok && v == nil {
		delete(m, "creationTimestamp")
	}
	obj["metadata"] = m
	return nil
}

// coerceEmbedded coerces the metadata of the embedded resources below x.
func coerceEmbedded(x interface{}, s *Structural, path string, unknown *[]string) error {
	if s == nil {
		return nil
	}
	switch x := x.(type) {
	case map[string]interface{}:
		if s.EmbeddedResource && path != "" {
			if err := coerceMeta(x, path, unknown); err != nil {
				return err
			}
		}
		for k, v := range x {
			if s.EmbeddedResource && metaFields[k] {
				continue
			}
			if sub, ok := s.field(k); ok {
				if err := coerceEmbedded(v, sub, child(path, k), unknown); err != nil {
					return err
				}
			}
		}
	case []interface{}:
		for i, v := range x {
			if err := coerceEmbedded(v, s.Items, index(path, i), unknown); err != nil {
				return err
			}
		}
	}
	return nil
}
