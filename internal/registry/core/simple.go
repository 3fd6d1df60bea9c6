package core

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kedge-dev/kedge/internal/registry"
)

// Namespaces is the strategy of core/v1 namespaces.
func Namespaces() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("Namespace"), Name: "namespaces", ShortNames: []string{"ns"},
		Status:         true,
		NameValidation: apivalidation.ValidateNamespaceName,
		New:            func() runtime.Object { return &corev1.Namespace{} },
		NewList:        func() runtime.Object { return &corev1.NamespaceList{} },
		PrepareForCreate: func(obj runtime.Object) {
			ns := obj.(*corev1.Namespace)
			ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
			ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		},
		Default: func(obj runtime.Object) {
			ns := obj.(*corev1.Namespace)
			if ns.Labels == nil {
				ns.Labels = map[string]string{}
			}
			ns.Labels[corev1.LabelMetadataName] = ns.Name
		},
		PrepareForDelete: func(obj runtime.Object) { obj.(*corev1.Namespace).Status.Phase = corev1.NamespaceTerminating },
		Finalizing:       func(obj runtime.Object) bool { return len(obj.(*corev1.Namespace).Spec.Finalizers) > 0 },
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.phase": string(obj.(*corev1.Namespace).Status.Phase)}
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Status", "string", 0, "The status of the namespace"), registry.AgeColumn},
		Row: func(obj runtime.Object) []interface{} {
			ns := obj.(*corev1.Namespace)
			return []interface{}{ns.Name, string(ns.Status.Phase), registry.Age(ns.CreationTimestamp)}
		},
	}
}

// Nodes is the strategy of core/v1 nodes.
func Nodes() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("Node"), Name: "nodes", ShortNames: []string{"no"}, Status: true,
		New:     func() runtime.Object { return &corev1.Node{} },
		NewList: func() runtime.Object { return &corev1.NodeList{} },
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"spec.unschedulable": fmt.Sprint(obj.(*corev1.Node).Spec.Unschedulable)}
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			n, o := obj.(*corev1.Node), old.(*corev1.Node)
			if o.Spec.PodCIDR != "" && n.Spec.PodCIDR != o.Spec.PodCIDR {
				return field.ErrorList{field.Forbidden(field.NewPath("spec", "podCIDR"), "node updates may not change podCIDR except from \"\" to valid")}
			}
			return nil
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Status", "string", 0, "The status of the node"),
			registry.Col("Roles", "string", 0, "The roles of the node"),
			registry.AgeColumn,
			registry.Col("Version", "string", 0, "Kubelet Version reported by the node."),
			registry.Col("Internal-IP", "string", 1, "List of internal IPs."),
			registry.Col("External-IP", "string", 1, "List of external IPs."),
			registry.Col("OS-Image", "string", 1, "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
			registry.Col("Kernel-Version", "string", 1, "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
			registry.Col("Container-Runtime", "string", 1, "Container runtime version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
		},
		Row: func(obj runtime.Object) []interface{} { return nodeRow(obj.(*corev1.Node)) },
	}
}

func nodeRow(n *corev1.Node) []interface{} {
	var status []string
	ready := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				ready = "Ready"
			} else {
				ready = "NotReady"
			}
		}
	}
	status = append(status, ready)
	if n.Spec.Unschedulable {
		status = append(status, "SchedulingDisabled")
	}
	var roles []string
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, "node-role.kubernetes.io/"):
			if r := strings.TrimPrefix(k, "node-role.kubernetes.io/"); r != "" {
				roles = append(roles, r)
			}
		case k == "kubernetes.io/role" && v != "":
			roles = append(roles, v)
		}
	}
	sort.Strings(roles)
	role := "<none>"
	if len(roles) > 0 {
		role = strings.Join(roles, ",")
	}
	addr := func(t corev1.NodeAddressType) string {
		for _, a := range n.Status.Addresses {
			if a.Type == t {
				return a.Address
			}
		}
		return "<none>"
	}
	return []interface{}{n.Name, strings.Join(status, ","), role, registry.Age(n.CreationTimestamp), n.Status.NodeInfo.KubeletVersion,
		addr(corev1.NodeInternalIP), addr(corev1.NodeExternalIP), n.Status.NodeInfo.OSImage, n.Status.NodeInfo.KernelVersion,
		n.Status.NodeInfo.ContainerRuntimeVersion}
}

// ConfigMaps is the strategy of core/v1 configmaps.
func ConfigMaps() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("ConfigMap"), Name: "configmaps", ShortNames: []string{"cm"}, Namespaced: true,
		New:     func() runtime.Object { return &corev1.ConfigMap{} },
		NewList: func() runtime.Object { return &corev1.ConfigMapList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			cm := obj.(*corev1.ConfigMap)
			var errs field.ErrorList
			for k := range cm.Data {
				errs = append(errs, validateDataKey(k, field.NewPath("data").Key(k))...)
				if _, ok := cm.BinaryData[k]; ok {
					errs = append(errs, field.Invalid(field.NewPath("data").Key(k), k, "duplicate of key present in binaryData"))
				}
			}
			for k := range cm.BinaryData {
				errs = append(errs, validateDataKey(k, field.NewPath("binaryData").Key(k))...)
			}
			return errs
		},
		ValidateUpdate: immutableData,
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Data", "string", 0, "Data contains the configuration data."), registry.AgeColumn},
		Row: func(obj runtime.Object) []interface{} {
			cm := obj.(*corev1.ConfigMap)
			return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), registry.Age(cm.CreationTimestamp)}
		},
	}
}

func immutableData(obj, old runtime.Object) field.ErrorList {
	var was *bool
	var same bool
	switch o := old.(type) {
	case *corev1.ConfigMap:
		n := obj.(*corev1.ConfigMap)
		was, same = o.Immutable, fmt.Sprint(n.Data, n.BinaryData) == fmt.Sprint(o.Data, o.BinaryData)
	case *corev1.Secret:
		n := obj.(*corev1.Secret)
		was, same = o.Immutable, fmt.Sprint(n.Data) == fmt.Sprint(o.Data)
	}
	if was != nil && *was && !same {
		return field.ErrorList{field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set")}
	}
	return nil
}

func validateDataKey(k string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsConfigMapKey(k) {
		errs = append(errs, field.Invalid(path, k, msg))
	}
	return errs
}

// Secrets is the strategy of core/v1 secrets.
func Secrets() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("Secret"), Name: "secrets", Namespaced: true,
		New:     func() runtime.Object { return &corev1.Secret{} },
		NewList: func() runtime.Object { return &corev1.SecretList{} },
		Default: func(obj runtime.Object) {
			s := obj.(*corev1.Secret)
			if s.Type == "" {
				s.Type = corev1.SecretTypeOpaque
			}
			// stringData is write-only: it merges into data.
			for k, v := range s.StringData {
				if s.Data == nil {
					s.Data = map[string][]byte{}
				}
				s.Data[k] = []byte(v)
			}
			s.StringData = nil
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			var errs field.ErrorList
			for k := range obj.(*corev1.Secret).Data {
				errs = append(errs, validateDataKey(k, field.NewPath("data").Key(k))...)
			}
			return errs
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			errs := immutableData(obj, old)
			if n, o := obj.(*corev1.Secret), old.(*corev1.Secret); n.Type != o.Type {
				errs = append(errs, field.Invalid(field.NewPath("type"), n.Type, "field is immutable"))
			}
			return errs
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"type": string(obj.(*corev1.Secret).Type)}
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Type", "string", 0, "The type of the secret"),
			registry.Col("Data", "string", 0, "The number of entries in the secret"), registry.AgeColumn},
		Row: func(obj runtime.Object) []interface{} {
			s := obj.(*corev1.Secret)
			return []interface{}{s.Name, string(s.Type), int64(len(s.Data)), registry.Age(s.CreationTimestamp)}
		},
	}
}

// ServiceAccounts is the strategy of core/v1 serviceaccounts.
func ServiceAccounts() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("ServiceAccount"), Name: "serviceaccounts", ShortNames: []string{"sa"}, Namespaced: true,
		New:     func() runtime.Object { return &corev1.ServiceAccount{} },
		NewList: func() runtime.Object { return &corev1.ServiceAccountList{} },
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Secrets", "string", 0, "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
			registry.AgeColumn},
		Row: func(obj runtime.Object) []interface{} {
			sa := obj.(*corev1.ServiceAccount)
			return []interface{}{sa.Name, int64(len(sa.Secrets)), registry.Age(sa.CreationTimestamp)}
		},
	}
}

// Events is the strategy of core/v1 events.
func Events() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("Event"), Name: "events", ShortNames: []string{"ev"}, Namespaced: true,
		New:     func() runtime.Object { return &corev1.Event{} },
		NewList: func() runtime.Object { return &corev1.EventList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			e := obj.(*corev1.Event)
			var errs field.ErrorList
			if e.InvolvedObject.Namespace != "" && e.InvolvedObject.Namespace != e.Namespace {
				errs = append(errs, field.Invalid(field.NewPath("involvedObject", "namespace"), e.InvolvedObject.Namespace, "does not match event.namespace"))
			}
			return errs
		},
		Fields: func(obj runtime.Object) fields.Set {
			e := obj.(*corev1.Event)
			return fields.Set{
				"involvedObject.kind": e.InvolvedObject.Kind, "involvedObject.namespace": e.InvolvedObject.Namespace,
				"involvedObject.name": e.InvolvedObject.Name, "involvedObject.uid": string(e.InvolvedObject.UID),
				"involvedObject.apiVersion": e.InvolvedObject.APIVersion, "involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
				"involvedObject.fieldPath": e.InvolvedObject.FieldPath, "reason": e.Reason, "reportingComponent": e.ReportingController,
				"source": e.Source.Component, "type": e.Type,
			}
		},
		Columns: EventColumns(),
		Row:     func(obj runtime.Object) []interface{} { return EventRow(obj.(*corev1.Event)) },
	}
}

// EventColumns are the columns of an event table, the same for core/v1 and
// events.k8s.io/v1 (upstream prints both from the core form).
func EventColumns() []metav1.TableColumnDefinition {
	doc := corev1.Event{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		registry.Col("Last Seen", "string", 0, doc["lastTimestamp"]),
		registry.Col("Type", "string", 0, doc["type"]),
		registry.Col("Reason", "string", 0, doc["reason"]),
		registry.Col("Object", "string", 0, doc["involvedObject"]),
		registry.Col("Subobject", "string", 1, corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]),
		registry.Col("Source", "string", 1, doc["source"]),
		registry.Col("Message", "string", 0, doc["message"]),
		registry.Col("First Seen", "string", 1, doc["firstTimestamp"]),
		registry.Col("Count", "string", 1, doc["count"]),
		{Name: "Name", Type: "string", Format: "name", Priority: 1, Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	}
}

// EventRow prints a core/v1 event as `kubectl get events` shows it.
func EventRow(e *corev1.Event) []interface{} {
	first := registry.Age(e.FirstTimestamp)
	if e.FirstTimestamp.IsZero() {
		first = registry.Age(metav1.NewTime(e.EventTime.Time))
	}
	last := registry.Age(e.LastTimestamp)
	if e.LastTimestamp.IsZero() {
		last = first
	}
	count := e.Count
	if e.Series != nil {
		last = registry.Age(metav1.NewTime(e.Series.LastObservedTime.Time))
		count = e.Series.Count
	} else if count == 0 {
		count = 1 // singleton events of the new API carry no count
	}
	target := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		target += "/" + e.InvolvedObject.Name
	}
	source := firstNonEmpty(e.Source.Component, e.ReportingController)
	if host := firstNonEmpty(e.Source.Host, e.ReportingInstance); host != "" {
		source += ", " + host
	}
	return []interface{}{last, e.Type, e.Reason, target, e.InvolvedObject.FieldPath, source,
		strings.TrimSpace(e.Message), first, int64(count), e.Name}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Endpoints is the strategy of core/v1 endpoints.
func Endpoints() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("Endpoints"), Name: "endpoints", Singular: "endpoints",
		ShortNames: []string{"ep"}, Namespaced: true,
		New:     func() runtime.Object { return &corev1.Endpoints{} },
		NewList: func() runtime.Object { return &corev1.EndpointsList{} },
		Default: func(obj runtime.Object) {
			for i := range obj.(*corev1.Endpoints).Subsets {
				s := &obj.(*corev1.Endpoints).Subsets[i]
				for j := range s.Ports {
					if s.Ports[j].Protocol == "" {
						s.Ports[j].Protocol = corev1.ProtocolTCP
					}
				}
			}
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Endpoints", "string", 0, "Endpoints is the list of endpoints in this service."), registry.AgeColumn},
		Row: func(obj runtime.Object) []interface{} {
			ep := obj.(*corev1.Endpoints)
			return []interface{}{ep.Name, formatEndpoints(ep), registry.Age(ep.CreationTimestamp)}
		},
	}
}

func formatEndpoints(ep *corev1.Endpoints) string {
	var list []string
	total, max := 0, 3
	for _, s := range ep.Subsets {
		for _, a := range s.Addresses {
			if len(s.Ports) == 0 {
				if len(list) < max {
					list = append(list, a.IP)
				}
				total++
				continue
			}
			for _, p := range s.Ports {
				if len(list) < max {
					list = append(list, fmt.Sprintf("%s:%d", a.IP, p.Port))
				}
				total++
			}
		}
	}
	if total == 0 {
		return "<none>"
	}
	out := strings.Join(list, ",")
	if total > max {
		out += fmt.Sprintf(" + %d more...", total-max)
	}
	return out
}
