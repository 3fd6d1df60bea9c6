package apiserver

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	jsonserializer "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/storage"
)

// codec turns typed objects into stored/served JSON and back.
type codec struct {
	strict  runtime.Serializer
	lenient runtime.Serializer
	yaml    runtime.Serializer
	proto   runtime.Serializer
}

func newCodec() *codec {
	return &codec{
		strict: jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
			jsonserializer.SerializerOptions{Strict: true}),
		lenient: jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
			jsonserializer.SerializerOptions{}),
		yaml: jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
			jsonserializer.SerializerOptions{Yaml: true, Strict: true}),
		proto: protobuf.NewSerializer(scheme.Scheme, scheme.Scheme),
	}
}

// fieldValidation is the request's fieldValidation directive.
type fieldValidation string

const (
	validateStrict fieldValidation = "Strict"
	validateWarn   fieldValidation = "Warn"
	validateIgnore fieldValidation = "Ignore"
)

// decodeBody decodes a request body as an object of res. Unknown or
// duplicate fields are errors under Strict, warnings under Warn.
func (c *codec) decodeBody(res *registry.Resource, body []byte, fv fieldValidation, contentType string) (runtime.Object, []string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil, apierrors.NewBadRequest("the request body is empty")
	}
	obj := res.New()
	gvk := res.GVK
	dec := c.lenient
	if fv != validateIgnore {
		dec = c.strict
	}
	switch contentType {
	case "application/yaml":
		dec = c.yaml
	case "application/vnd.kubernetes.protobuf":
		dec = c.proto
	}
	into, actual, err := dec.Decode(body, &gvk, obj)
	var warnings []string
	if err != nil {
		if runtime.IsStrictDecodingError(err) {
			if fv == validateStrict {
				return nil, nil, cannotHandle(res, err)
			}
			warnings = strictWarnings(err)
			into, actual, err = c.lenient.Decode(body, &gvk, obj)
		}
		if err != nil {
			return nil, nil, cannotHandle(res, err)
		}
	}
	if actual != nil && (actual.GroupVersion() != res.GVK.GroupVersion() || actual.Kind != res.GVK.Kind) {
		if actual.GroupVersion() != res.GVK.GroupVersion() {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", actual.GroupVersion(), res.GVK.GroupVersion()))
		}
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", actual.Kind, res.GVK.Kind))
	}
	into.GetObjectKind().SetGroupVersionKind(res.GVK)
	if res.Coerce != nil {
		// Schema-driven kinds learn their unknown fields by pruning.
		unknown, err := res.Coerce(into)
		if err != nil {
			return nil, nil, cannotHandle(res, err)
		}
		if len(unknown) > 0 && fv == validateStrict {
			errs := make([]error, len(unknown))
			for i, p := range unknown {
				errs[i] = fmt.Errorf("unknown field %q", p)
			}
			return nil, nil, cannotHandle(res, runtime.NewStrictDecodingError(errs))
		}
		if fv == validateWarn {
			for _, p := range unknown {
				warnings = append(warnings, fmt.Sprintf("unknown field %q", p))
			}
		}
	}
	return into, warnings, nil
}

func strictWarnings(err error) []string {
	if se, ok := runtime.AsStrictDecodingError(err); ok {
		var out []string
		for _, e := range se.Errors() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

// cannotHandle is upstream's 400 for a body that does not decode as the kind.
func cannotHandle(res *registry.Resource, err error) error {
	return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v",
		res.GVK.Kind, res.GVK.Version, res.GVK.Kind, err))
}

// encode serializes a typed object of res (with apiVersion and kind).
func (c *codec) encode(res *registry.Resource, obj runtime.Object) ([]byte, error) {
	obj.GetObjectKind().SetGroupVersionKind(res.GVK)
	var buf bytes.Buffer
	if err := c.lenient.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// encodeAny serializes a typed object whose kind is registered in the scheme.
func (c *codec) encodeAny(obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	var buf bytes.Buffer
	if err := c.lenient.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// fromStore decodes a stored object (converting it to the served version
// when the resource shares another's storage) and stamps its resourceVersion.
func (c *codec) fromStore(res *registry.Resource, kv storage.KV) (runtime.Object, error) {
	newObj, gvk := res.New, res.GVK
	if res.Storage != nil {
		newObj, gvk = res.Storage.New, res.Storage.GVK
	}
	into, _, err := c.lenient.Decode(kv.Value, &gvk, newObj())
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
	}
	if res.Storage != nil {
		if into, err = res.Storage.FromStorage(into); err != nil {
			return nil, fmt.Errorf("convert %s: %w", kv.Key, err)
		}
	}
	m, err := meta.Accessor(into)
	if err != nil {
		return nil, err
	}
	m.SetResourceVersion(strconv.FormatInt(kv.Rev, 10))
	into.GetObjectKind().SetGroupVersionKind(res.GVK)
	return into, nil
}

// forStore encodes an object for etcd, in the stored version and without
// its resourceVersion, which etcd's revision stands for.
func (c *codec) forStore(res *registry.Resource, obj runtime.Object) ([]byte, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	defer m.SetResourceVersion(rv)
	if res.Storage == nil {
		return c.encode(res, obj)
	}
	stored, err := res.Storage.ToStorage(obj.DeepCopyObject())
	if err != nil {
		return nil, err
	}
	if sm, err := meta.Accessor(stored); err == nil {
		sm.SetResourceVersion("")
	}
	return c.encodeAny(stored, res.Storage.GVK)
}

func setRV(obj runtime.Object, rev int64) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatInt(rev, 10))
	}
}

// partial is an object's metadata as a PartialObjectMetadata.
func partial(obj runtime.Object) *metav1.PartialObjectMetadata {
	m, err := meta.Accessor(obj)
	if err != nil {
		return &metav1.PartialObjectMetadata{}
	}
	pm := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"}}
	if om, ok := m.(*metav1.ObjectMeta); ok {
		pm.ObjectMeta = *om
	} else {
		pm.ObjectMeta = metav1.ObjectMeta{
			Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(), ResourceVersion: m.GetResourceVersion(),
			Generation: m.GetGeneration(), CreationTimestamp: m.GetCreationTimestamp(), DeletionTimestamp: m.GetDeletionTimestamp(),
			DeletionGracePeriodSeconds: m.GetDeletionGracePeriodSeconds(), Labels: m.GetLabels(), Annotations: m.GetAnnotations(),
			OwnerReferences: m.GetOwnerReferences(), Finalizers: m.GetFinalizers(), ManagedFields: m.GetManagedFields(),
			GenerateName: m.GetGenerateName(),
		}
	}
	return pm
}

var errBodyTooLarge = apierrors.NewRequestEntityTooLargeError("limit is 3145728")

const maxBody = 3 << 20

func readBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errBodyTooLarge
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("read request body: %v", err))
	}
	return buf.Bytes(), nil
}

// decodeInto decodes a body of the given content type into a typed object
// (options, bindings, scales: kinds without a strategy of their own).
func (c *codec) decodeInto(contentType string, body []byte, into runtime.Object) error {
	dec := c.lenient
	switch contentType {
	case "application/vnd.kubernetes.protobuf":
		dec = c.proto
	case "application/yaml":
		dec = c.yaml
	}
	if _, _, err := dec.Decode(body, nil, into); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	return nil
}
