package volume

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// DefaultMode is the permission of files in configMap, secret,
// downwardAPI and projected volumes when the pod sets none (0644 = 420).
const DefaultMode = 0o644

func fileMode(item *int32, def *int32) os.FileMode {
	switch {
	case item != nil:
		return os.FileMode(*item)
	case def != nil:
		return os.FileMode(*def)
	}
	return DefaultMode
}

// keyData is the content of a ConfigMap or Secret by key.
type keyData map[string][]byte

func configMapData(cm *v1.ConfigMap) keyData {
	out := keyData{}
	if cm == nil {
		return out
	}
	for k, v := range cm.Data {
		out[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		out[k] = v
	}
	return out
}

func secretData(s *v1.Secret) keyData {
	out := keyData{}
	if s == nil {
		return out
	}
	for k, v := range s.Data {
		out[k] = v
	}
	return out
}

// keysPayload projects keys to files: every key when items is empty,
// else the listed keys at their paths. missing builds the error of a
// listed key the object lacks (ignored when optional).
func keysPayload(data keyData, items []v1.KeyToPath, defaultMode *int32, optional bool, missing func(key string) error) (Payload, error) {
	out := Payload{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = File{Data: v, Mode: fileMode(nil, defaultMode)}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, missing(it.Key)
		}
		out[it.Path] = File{Data: v, Mode: fileMode(it.Mode, defaultMode)}
	}
	return out, nil
}

// ConfigMapPayload is the content of a configMap volume; cm is nil when
// the ConfigMap does not exist (allowed only when optional).
func ConfigMapPayload(src *v1.ConfigMapVolumeSource, cm *v1.ConfigMap) (Payload, error) {
	optional := src.Optional != nil && *src.Optional
	if cm == nil && !optional {
		return nil, notFound("configmap", src.Name)
	}
	return keysPayload(configMapData(cm), src.Items, src.DefaultMode, optional, func(key string) error {
		return fmt.Errorf("configmap references non-existent config key: %s", key)
	})
}

// SecretPayload is the content of a secret volume; s is nil when the
// Secret does not exist (allowed only when optional).
func SecretPayload(src *v1.SecretVolumeSource, s *v1.Secret) (Payload, error) {
	optional := src.Optional != nil && *src.Optional
	if s == nil && !optional {
		return nil, notFound("secret", src.SecretName)
	}
	return keysPayload(secretData(s), src.Items, src.DefaultMode, optional, func(key string) error {
		return fmt.Errorf("references non-existent secret key: %s", key)
	})
}

// DownwardAPIPayload renders downward API files from the pod.
// allocatable stands in for unset limits.
func DownwardAPIPayload(items []v1.DownwardAPIVolumeFile, defaultMode *int32, pod *v1.Pod, allocatable v1.ResourceList) (Payload, error) {
	out := Payload{}
	for _, it := range items {
		var value string
		var err error
		switch {
		case it.FieldRef != nil:
			value, err = FieldValue(it.FieldRef.FieldPath, pod)
		case it.ResourceFieldRef != nil:
			value, err = ContainerResourceValue(pod, it.ResourceFieldRef, allocatable)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		out[it.Path] = File{Data: []byte(value), Mode: fileMode(it.Mode, defaultMode)}
	}
	return out, nil
}

// FieldValue renders a downward API volume field: metadata.name,
// namespace, uid, labels and annotations (all of them, one key="value"
// per line, sorted, or one by subscript).
func FieldValue(path string, pod *v1.Pod) (string, error) {
	if key, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	}
	return "", fmt.Errorf("unsupported fieldPath: %s", path)
}

// formatMap is upstream's rendering of labels and annotations: sorted
// key="quoted value" lines without a final newline.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		lines = append(lines, k+"="+strconv.Quote(m[k]))
	}
	return strings.Join(lines, "\n")
}

func subscript(path, prefix string) (string, bool) {
	if !strings.HasPrefix(path, prefix+"[") || !strings.HasSuffix(path, "]") {
		return "", false
	}
	return strings.Trim(path[len(prefix)+1:len(path)-1], `'"`), true
}

// ContainerResourceValue renders a resourceFieldRef of a volume: the
// named container's limit or request divided by the divisor, rounded up.
// An unset limit is the node's allocatable.
func ContainerResourceValue(pod *v1.Pod, ref *v1.ResourceFieldSelector, allocatable v1.ResourceList) (string, error) {
	var c *v1.Container
	for _, list := range [][]v1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == ref.ContainerName {
				c = &list[i]
			}
		}
	}
	if c == nil {
		return "", fmt.Errorf("container %s not found", ref.ContainerName)
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("unsupported container resource : %v", ref.Resource)
	}
	rn := v1.ResourceName(name)
	var q resource.Quantity
	if kind == "limits" {
		var set bool
		if q, set = c.Resources.Limits[rn]; !set {
			q = allocatable[rn]
		}
	} else {
		q = c.Resources.Requests[rn]
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if rn == v1.ResourceCPU {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
}

// Sources gives projected volumes the objects and tokens they project.
// Get methods return (nil, nil) for a missing object.
type Sources interface {
	ConfigMap(name string) (*v1.ConfigMap, error)
	Secret(name string) (*v1.Secret, error)
	// Token returns a ServiceAccount token of the pod for the projection.
	Token(p *v1.ServiceAccountTokenProjection) (string, error)
}

// ProjectedPayload merges the sources of a projected volume.
func ProjectedPayload(src *v1.ProjectedVolumeSource, pod *v1.Pod, allocatable v1.ResourceList, from Sources) (Payload, error) {
	out := Payload{}
	merge := func(p Payload) {
		for k, v := range p {
			out[k] = v
		}
	}
	for _, s := range src.Sources {
		switch {
		case s.ConfigMap != nil:
			cm, err := from.ConfigMap(s.ConfigMap.Name)
			if err != nil {
				return nil, err
			}
			optional := s.ConfigMap.Optional != nil && *s.ConfigMap.Optional
			if cm == nil && !optional {
				return nil, notFound("configmap", s.ConfigMap.Name)
			}
			p, err := keysPayload(configMapData(cm), s.ConfigMap.Items, src.DefaultMode, optional, func(key string) error {
				return fmt.Errorf("configmap references non-existent config key: %s", key)
			})
			if err != nil {
				return nil, err
			}
			merge(p)
		case s.Secret != nil:
			sec, err := from.Secret(s.Secret.Name)
			if err != nil {
				return nil, err
			}
			optional := s.Secret.Optional != nil && *s.Secret.Optional
			if sec == nil && !optional {
				return nil, notFound("secret", s.Secret.Name)
			}
			p, err := keysPayload(secretData(sec), s.Secret.Items, src.DefaultMode, optional, func(key string) error {
				return fmt.Errorf("references non-existent secret key: %s", key)
			})
			if err != nil {
				return nil, err
			}
			merge(p)
		case s.DownwardAPI != nil:
			p, err := DownwardAPIPayload(s.DownwardAPI.Items, src.DefaultMode, pod, allocatable)
			if err != nil {
				return nil, err
			}
			merge(p)
		case s.ServiceAccountToken != nil:
			token, err := from.Token(s.ServiceAccountToken)
			if err != nil {
				return nil, err
			}
			out[s.ServiceAccountToken.Path] = File{Data: []byte(token), Mode: fileMode(nil, src.DefaultMode)}
		}
		// clusterTrustBundle and podCertificate sources are not
		// supported; their feature gates are off by default upstream.
	}
	return out, nil
}

// notFoundError is the error of a missing ConfigMap or Secret, worded as
// upstream's kubelet: `configmap "x" not found`.
type notFoundError struct{ kind, name string }

func (e *notFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.kind, e.name) }

func notFound(kind, name string) error { return &notFoundError{kind, name} }
