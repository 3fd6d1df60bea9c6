package kubelet

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// envSource supplies what env resolution needs beyond the pod: ConfigMaps,
// Secrets (fetched from the API), Services for the service link variables
// and the node's allocatable resources for resourceFieldRef defaults.
type envSource interface {
	configMap(namespace, name string) (*v1.ConfigMap, error)
	secret(namespace, name string) (*v1.Secret, error)
}

// envContext is the pod-level input of makeEnv.
type envContext struct {
	Pod         *v1.Pod
	PodIPs      []string
	HostIPs     []string
	Services    []*v1.Service // in the pod's namespace, plus default/kubernetes
	Allocatable v1.ResourceList
}

// makeEnv resolves a container's environment like upstream: service link
// variables lowest, then envFrom, then env with $(VAR) expansion.
func makeEnv(c *v1.Container, ec envContext, src envSource) ([]v1.EnvVar, error) {
	pod := ec.Pod
	values := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := values[k]; !ok {
			order = append(order, k)
		}
		values[k] = v
	}

	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			optional := from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional
			cm, err := src.configMap(pod.Namespace, from.ConfigMapRef.Name)
			if err != nil {
				if optional {
					continue
				}
				return nil, err
			}
			for _, k := range sortedKeys(cm.Data) {
				set(from.Prefix+k, cm.Data[k])
			}
		case from.SecretRef != nil:
			optional := from.SecretRef.Optional != nil && *from.SecretRef.Optional
			s, err := src.secret(pod.Namespace, from.SecretRef.Name)
			if err != nil {
				if optional {
					continue
				}
				return nil, err
			}
			keys := make([]string, 0, len(s.Data))
			for k := range s.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				set(from.Prefix+k, string(s.Data[k]))
			}
		}
	}

	svcEnv := serviceEnv(ec.Services, pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks, pod.Namespace)
	lookup := func(name string) (string, bool) {
		if v, ok := values[name]; ok {
			return v, true
		}
		v, ok := svcEnv[name]
		return v, ok
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, lookup))
			continue
		}
		v, ok, err := resolveValueFrom(c, e.ValueFrom, ec, src)
		if err != nil {
			return nil, err
		}
		if ok {
			set(e.Name, v)
		}
	}
	for _, k := range sortedKeys(svcEnv) {
		if _, ok := values[k]; !ok {
			set(k, svcEnv[k])
		}
	}
	out := make([]v1.EnvVar, 0, len(order))
	for _, k := range order {
		out = append(out, v1.EnvVar{Name: k, Value: values[k]})
	}
	return out, nil
}

func resolveValueFrom(c *v1.Container, from *v1.EnvVarSource, ec envContext, src envSource) (string, bool, error) {
	pod := ec.Pod
	switch {
	case from.FieldRef != nil:
		v, err := podField(from.FieldRef.FieldPath, ec)
		return v, err == nil, err
	case from.ResourceFieldRef != nil:
		v, err := resourceField(c, from.ResourceFieldRef, ec.Allocatable)
		return v, err == nil, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := src.configMap(pod.Namespace, ref.Name)
		if err != nil {
			if optional {
				return "", false, nil
			}
			return "", false, err
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return v, true, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, err := src.secret(pod.Namespace, ref.Name)
		if err != nil {
			if optional {
				return "", false, nil
			}
			return "", false, err
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return string(v), true, nil
	}
	return "", false, nil
}

// podField resolves a downward API field path.
func podField(path string, ec envContext) (string, error) {
	pod := ec.Pod
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
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return first(ec.HostIPs), nil
	case "status.hostIPs":
		return strings.Join(ec.HostIPs, ","), nil
	case "status.podIP":
		return first(ec.PodIPs), nil
	case "status.podIPs":
		return strings.Join(ec.PodIPs, ","), nil
	}
	return "", fmt.Errorf("unsupported fieldPath: %s", path)
}

func subscript(path, prefix string) (string, bool) {
	if !strings.HasPrefix(path, prefix+"[") || !strings.HasSuffix(path, "]") {
		return "", false
	}
	key := path[len(prefix)+1 : len(path)-1]
	return strings.Trim(key, `'"`), true
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// resourceField resolves a resourceFieldRef: the container's limit or
// request divided by the divisor and rounded up; an unset limit means the
// node's allocatable.
func resourceField(c *v1.Container, ref *v1.ResourceFieldSelector, allocatable v1.ResourceList) (string, error) {
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	var q resource.Quantity
	var ok bool
	switch ref.Resource {
	case "limits.cpu", "limits.memory", "limits.ephemeral-storage":
		name := v1.ResourceName(strings.TrimPrefix(ref.Resource, "limits."))
		if q, ok = c.Resources.Limits[name]; !ok {
			q = allocatable[name]
		}
	case "requests.cpu", "requests.memory", "requests.ephemeral-storage":
		name := v1.ResourceName(strings.TrimPrefix(ref.Resource, "requests."))
		q = c.Resources.Requests[name]
	default:
		return "", fmt.Errorf("unsupported container resource: %s", ref.Resource)
	}
	if strings.HasSuffix(ref.Resource, ".cpu") {
		v := math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue()))
		return strconv.FormatInt(int64(v), 10), nil
	}
	v := math.Ceil(float64(q.Value()) / float64(divisor.Value()))
	return strconv.FormatInt(int64(v), 10), nil
}

// expand replaces $(VAR) references; $$ escapes a $. Unknown references
// are left as written.
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// serviceEnv builds the Docker-link style variables for services: all of
// the pod's namespace when links are enabled, and always the "kubernetes"
// service of the default namespace.
func serviceEnv(services []*v1.Service, links bool, namespace string) map[string]string {
	env := map[string]string{}
	for _, svc := range services {
		if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == v1.ClusterIPNone {
			continue
		}
		master := svc.Namespace == "default" && svc.Name == "kubernetes"
		if !master && (!links || svc.Namespace != namespace) {
			continue
		}
		prefix := strings.ToUpper(strings.ReplaceAll(svc.Name, "-", "_"))
		ip := svc.Spec.ClusterIP
		for i, p := range svc.Spec.Ports {
			port := strconv.Itoa(int(p.Port))
			proto := strings.ToLower(string(p.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			if i == 0 {
				env[prefix+"_SERVICE_HOST"] = ip
				env[prefix+"_SERVICE_PORT"] = port
				env[prefix+"_PORT"] = fmt.Sprintf("%s://%s", proto, joinHostPort(ip, port))
			}
			if p.Name != "" {
				env[prefix+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))] = port
			}
			base := fmt.Sprintf("%s_PORT_%s_%s", prefix, port, strings.ToUpper(proto))
			env[base] = fmt.Sprintf("%s://%s", proto, joinHostPort(ip, port))
			env[base+"_PROTO"] = proto
			env[base+"_PORT"] = port
			env[base+"_ADDR"] = ip
		}
	}
	return env
}

func joinHostPort(ip, port string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + port
	}
	return ip + ":" + port
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
