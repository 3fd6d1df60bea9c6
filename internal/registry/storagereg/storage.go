// Package storagereg holds the strategies of storage.k8s.io/v1:
// storageclasses, csidrivers, csinodes and volumeattachments. (It is not
// internal/storage, which is the etcd store.)
package storagereg

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/registry/core"
)

// Annotations that mark the default StorageClass.
const (
	defaultClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaDefaultClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

// StorageClasses is the strategy of storage.k8s.io/v1 storageclasses.
func StorageClasses() *registry.Resource {
	return &registry.Resource{
		GVK: storagev1.SchemeGroupVersion.WithKind("StorageClass"), Name: "storageclasses", ShortNames: []string{"sc"},
		New:     func() runtime.Object { return &storagev1.StorageClass{} },
		NewList: func() runtime.Object { return &storagev1.StorageClassList{} },
		Default: func(obj runtime.Object) {
			sc := obj.(*storagev1.StorageClass)
			if sc.ReclaimPolicy == nil {
				sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimDelete)
			}
			if sc.VolumeBindingMode == nil {
				sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingImmediate)
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			sc := obj.(*storagev1.StorageClass)
			errs := validateProvisioner(sc.Provisioner, field.NewPath("provisioner"))
			errs = append(errs, validateParameters(sc.Parameters, field.NewPath("parameters"))...)
			if r := sc.ReclaimPolicy; r != nil && *r != "" && *r != corev1.PersistentVolumeReclaimDelete && *r != corev1.PersistentVolumeReclaimRetain {
				errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), r, []string{"Delete", "Retain"}))
			}
			switch m := sc.VolumeBindingMode; {
			case m == nil:
				errs = append(errs, field.Required(field.NewPath("volumeBindingMode"), ""))
			case *m != storagev1.VolumeBindingImmediate && *m != storagev1.VolumeBindingWaitForFirstConsumer:
				errs = append(errs, field.NotSupported(field.NewPath("volumeBindingMode"), m, []string{"Immediate", "WaitForFirstConsumer"}))
			}
			return append(errs, validateTopologies(sc.AllowedTopologies, field.NewPath("allowedTopologies"))...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			sc, o := obj.(*storagev1.StorageClass), old.(*storagev1.StorageClass)
			var errs field.ErrorList
			if !reflect.DeepEqual(o.Parameters, sc.Parameters) {
				errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
			}
			if sc.Provisioner != o.Provisioner {
				errs = append(errs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
			}
			if ptr.Deref(sc.ReclaimPolicy, "") != ptr.Deref(o.ReclaimPolicy, "") {
				errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
			}
			return append(errs, apivalidation.ValidateImmutableField(sc.VolumeBindingMode, o.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Provisioner", "string", 0, storagev1.StorageClass{}.SwaggerDoc()["provisioner"]),
			registry.Col("ReclaimPolicy", "string", 0, storagev1.StorageClass{}.SwaggerDoc()["reclaimPolicy"]),
			registry.Col("VolumeBindingMode", "string", 0, storagev1.StorageClass{}.SwaggerDoc()["volumeBindingMode"]),
			registry.Col("AllowVolumeExpansion", "string", 0, storagev1.StorageClass{}.SwaggerDoc()["allowVolumeExpansion"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			sc := obj.(*storagev1.StorageClass)
			name := sc.Name
			if sc.Annotations[defaultClassAnnotation] == "true" || sc.Annotations[betaDefaultClassAnnotation] == "true" {
				name += " (default)"
			}
			return []interface{}{name, sc.Provisioner, string(ptr.Deref(sc.ReclaimPolicy, corev1.PersistentVolumeReclaimDelete)),
				string(ptr.Deref(sc.VolumeBindingMode, storagev1.VolumeBindingImmediate)), ptr.Deref(sc.AllowVolumeExpansion, false),
				registry.Age(sc.CreationTimestamp)}
		},
	}
}

func validateProvisioner(p string, path *field.Path) field.ErrorList {
	if p == "" {
		return field.ErrorList{field.Required(path, p)}
	}
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(strings.ToLower(p)) {
		errs = append(errs, field.Invalid(path, strings.ToLower(p), msg))
	}
	return errs
}

func validateParameters(params map[string]string, p *field.Path) field.ErrorList {
	if len(params) > 512 {
		return field.ErrorList{field.TooLong(p, "", 512)}
	}
	var errs field.ErrorList
	size := 0
	for k, v := range params {
		if k == "" {
			errs = append(errs, field.Invalid(p, k, "field can not be empty."))
		}
		size += len(k) + len(v)
	}
	if size > 256*(1<<10) {
		errs = append(errs, field.TooLong(p, "", 256*(1<<10)))
	}
	return errs
}

func validateTopologies(terms []corev1.TopologySelectorTerm, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	var seen []map[string][]string
	for i, term := range terms {
		ip := p.Index(i)
		exprs := map[string][]string{}
		for j, r := range term.MatchLabelExpressions {
			rp := ip.Child("matchLabelExpressions").Index(j)
			for _, msg := range validation.IsQualifiedName(r.Key) {
				errs = append(errs, field.Invalid(rp.Child("key"), r.Key, msg))
			}
			if len(r.Values) == 0 {
				errs = append(errs, field.Required(rp.Child("values"), ""))
			}
			for k, v := range r.Values {
				for _, msg := range validation.IsValidLabelValue(v) {
					errs = append(errs, field.Invalid(rp.Child("values").Index(k), v, msg))
				}
			}
			if _, dup := exprs[r.Key]; dup {
				errs = append(errs, field.Duplicate(rp.Child("key"), r.Key))
			}
			exprs[r.Key] = r.Values
		}
		for _, s := range seen {
			if apiequality.Semantic.DeepEqual(s, exprs) {
				errs = append(errs, field.Duplicate(ip.Child("matchLabelExpressions"), ""))
			}
		}
		seen = append(seen, exprs)
	}
	return errs
}

// CSIDrivers is the strategy of storage.k8s.io/v1 csidrivers.
func CSIDrivers() *registry.Resource {
	return &registry.Resource{
		GVK: storagev1.SchemeGroupVersion.WithKind("CSIDriver"), Name: "csidrivers",
		New:     func() runtime.Object { return &storagev1.CSIDriver{} },
		NewList: func() runtime.Object { return &storagev1.CSIDriverList{} },
		Default: func(obj runtime.Object) {
			s := &obj.(*storagev1.CSIDriver).Spec
			if s.AttachRequired == nil {
				s.AttachRequired = ptr.To(true)
			}
			if s.PodInfoOnMount == nil {
				s.PodInfoOnMount = ptr.To(false)
			}
			if s.StorageCapacity == nil {
				s.StorageCapacity = ptr.To(false)
			}
			if s.FSGroupPolicy == nil {
				s.FSGroupPolicy = ptr.To(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy)
			}
			if len(s.VolumeLifecycleModes) == 0 {
				s.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent}
			}
			if s.RequiresRepublish == nil {
				s.RequiresRepublish = ptr.To(false)
			}
			if s.SELinuxMount == nil {
				s.SELinuxMount = ptr.To(false)
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateCSIDriverSpec(&obj.(*storagev1.CSIDriver).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, o := obj.(*storagev1.CSIDriver).Spec, old.(*storagev1.CSIDriver).Spec
			// "attachedRequired" is upstream's spelling of the path.
			errs := apivalidation.ValidateImmutableField(s.AttachRequired, o.AttachRequired, field.NewPath("spec", "attachedRequired"))
			return append(errs, apivalidation.ValidateImmutableField(s.VolumeLifecycleModes, o.VolumeLifecycleModes, field.NewPath("spec", "volumeLifecycleModes"))...)
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("AttachRequired", "boolean", 0, storagev1.CSIDriverSpec{}.SwaggerDoc()["attachRequired"]),
			registry.Col("PodInfoOnMount", "boolean", 0, storagev1.CSIDriverSpec{}.SwaggerDoc()["podInfoOnMount"]),
			registry.Col("StorageCapacity", "boolean", 0, storagev1.CSIDriverSpec{}.SwaggerDoc()["storageCapacity"]),
			registry.Col("TokenRequests", "string", 0, storagev1.CSIDriverSpec{}.SwaggerDoc()["tokenRequests"]),
			registry.Col("RequiresRepublish", "boolean", 0, storagev1.CSIDriverSpec{}.SwaggerDoc()["requiresRepublish"]),
			registry.Col("Modes", "string", 0, storagev1.CSIDriverSpec{}.SwaggerDoc()["volumeLifecycleModes"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			d := obj.(*storagev1.CSIDriver)
			var modes []string
			for _, m := range d.Spec.VolumeLifecycleModes {
				modes = append(modes, string(m))
			}
			mode := strings.Join(modes, ",")
			if mode == "" {
				mode = "<none>"
			}
			tokens := "<unset>"
			if d.Spec.TokenRequests != nil {
				var aud []string
				for _, t := range d.Spec.TokenRequests {
					aud = append(aud, t.Audience)
				}
				tokens = strings.Join(aud, ",")
			}
			return []interface{}{d.Name, ptr.Deref(d.Spec.AttachRequired, true), ptr.Deref(d.Spec.PodInfoOnMount, false),
				ptr.Deref(d.Spec.StorageCapacity, false), tokens, ptr.Deref(d.Spec.RequiresRepublish, false), mode,
				registry.Age(d.CreationTimestamp)}
		},
	}
}

func validateCSIDriverSpec(s *storagev1.CSIDriverSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name string
		v    *bool
	}{{"attachedRequired", s.AttachRequired}, {"podInfoOnMount", s.PodInfoOnMount}, {"storageCapacity", s.StorageCapacity}} {
		if f.v == nil {
			errs = append(errs, field.Required(p.Child(f.name), ""))
		}
	}
	if g := s.FSGroupPolicy; g != nil {
		switch *g {
		case storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy, storagev1.FileFSGroupPolicy, storagev1.NoneFSGroupPolicy:
		default:
			errs = append(errs, field.NotSupported(p.Child("fsGroupPolicy"), g, []string{"File", "None", "ReadWriteOnceWithFSType"}))
		}
	}
	audiences := map[string]bool{}
	for i, t := range s.TokenRequests {
		tp := p.Child("tokenRequests").Index(i)
		if audiences[t.Audience] {
			errs = append(errs, field.Duplicate(tp.Child("audience"), t.Audience))
			continue
		}
		audiences[t.Audience] = true
		if t.ExpirationSeconds == nil {
			continue
		}
		if *t.ExpirationSeconds < 600 {
			errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
		}
		if *t.ExpirationSeconds > 1<<32 {
			errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration larger than 2^32 seconds"))
		}
	}
	for _, m := range s.VolumeLifecycleModes {
		if m != storagev1.VolumeLifecyclePersistent && m != storagev1.VolumeLifecycleEphemeral {
			errs = append(errs, field.NotSupported(p.Child("volumeLifecycleModes"), m, []string{"Persistent", "Ephemeral"}))
		}
	}
	if s.SELinuxMount == nil {
		errs = append(errs, field.Required(p.Child("seLinuxMount"), ""))
	}
	if n := s.NodeAllocatableUpdatePeriodSeconds; n != nil && *n < 10 {
		errs = append(errs, field.Invalid(p.Child("nodeAllocatableUpdatePeriodSeconds"), *n, "must be greater than or equal to 10 seconds"))
	}
	return errs
}

// CSINodes is the strategy of storage.k8s.io/v1 csinodes.
func CSINodes() *registry.Resource {
	return &registry.Resource{
		GVK: storagev1.SchemeGroupVersion.WithKind("CSINode"), Name: "csinodes",
		New:     func() runtime.Object { return &storagev1.CSINode{} },
		NewList: func() runtime.Object { return &storagev1.CSINodeList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateCSINodeDrivers(obj.(*storagev1.CSINode).Spec.Drivers, field.NewPath("spec", "drivers"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			var errs field.ErrorList
			for _, o := range old.(*storagev1.CSINode).Spec.Drivers {
				for _, n := range obj.(*storagev1.CSINode).Spec.Drivers {
					if o.Name == n.Name {
						// The allocatable count may change; the rest may not.
						o.Allocatable, n.Allocatable = nil, nil
						errs = append(errs, apivalidation.ValidateImmutableField(n, o, field.NewPath("spec").Child("drivers"))...)
					}
				}
			}
			return errs
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Drivers", "integer", 0, "Drivers indicates the number of CSI drivers registered on the node"),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			n := obj.(*storagev1.CSINode)
			return []interface{}{n.Name, int64(len(n.Spec.Drivers)), registry.Age(n.CreationTimestamp)}
		},
	}
}

func validateCSINodeDrivers(drivers []storagev1.CSINodeDriver, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, d := range drivers {
		dp := p.Index(i)
		errs = append(errs, core.CSIDriverName(d.Name, dp.Child("name"))...)
		if d.NodeID == "" {
			errs = append(errs, field.Required(dp.Child("nodeID"), d.NodeID))
		}
		if len(d.NodeID) > 192 {
			errs = append(errs, field.Invalid(dp.Child("nodeID"), d.NodeID, fmt.Sprintf("must be %d characters or less", 192)))
		}
		if a := d.Allocatable; a != nil && a.Count != nil {
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*a.Count), dp.Child("allocatable", "count"))...)
		}
		if names[d.Name] {
			errs = append(errs, field.Duplicate(dp.Child("name"), d.Name))
		}
		names[d.Name] = true
		keys := map[string]bool{}
		for _, k := range d.TopologyKeys {
			if k == "" {
				errs = append(errs, field.Required(dp, k))
			}
			if keys[k] {
				errs = append(errs, field.Duplicate(dp, k))
			}
			keys[k] = true
			for _, msg := range validation.IsQualifiedName(k) {
				errs = append(errs, field.Invalid(dp, k, msg))
			}
		}
	}
	return errs
}

// VolumeAttachments is the strategy of storage.k8s.io/v1 volumeattachments.
func VolumeAttachments() *registry.Resource {
	return &registry.Resource{
		GVK: storagev1.SchemeGroupVersion.WithKind("VolumeAttachment"), Name: "volumeattachments", Status: true,
		New:     func() runtime.Object { return &storagev1.VolumeAttachment{} },
		NewList: func() runtime.Object { return &storagev1.VolumeAttachmentList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*storagev1.VolumeAttachment).Status = storagev1.VolumeAttachmentStatus{}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateVolumeAttachment(obj.(*storagev1.VolumeAttachment))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			va := obj.(*storagev1.VolumeAttachment)
			if !apiequality.Semantic.DeepEqual(va.Spec, old.(*storagev1.VolumeAttachment).Spec) {
				return field.ErrorList{field.Invalid(field.NewPath("spec"), va.Spec, "field is immutable")}
			}
			return nil
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			{Name: "Attacher", Type: "string", Format: "name", Description: storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["attacher"]},
			registry.Col("PV", "string", 0, storagev1.VolumeAttachmentSource{}.SwaggerDoc()["persistentVolumeName"]),
			registry.Col("Node", "string", 0, storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["nodeName"]),
			registry.Col("Attached", "boolean", 0, storagev1.VolumeAttachmentStatus{}.SwaggerDoc()["attached"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			va := obj.(*storagev1.VolumeAttachment)
			return []interface{}{va.Name, va.Spec.Attacher, ptr.Deref(va.Spec.Source.PersistentVolumeName, ""), va.Spec.NodeName,
				va.Status.Attached, registry.Age(va.CreationTimestamp)}
		},
	}
}

func validateVolumeAttachment(va *storagev1.VolumeAttachment) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	if va.Spec.Attacher == "" {
		errs = append(errs, field.Required(sp.Child("attacher"), ""))
	}
	src, srcPath := va.Spec.Source, sp.Child("source")
	switch {
	case src.InlineVolumeSpec == nil && src.PersistentVolumeName == nil:
		errs = append(errs, field.Required(srcPath, "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
	case src.InlineVolumeSpec != nil && src.PersistentVolumeName != nil:
		errs = append(errs, field.Forbidden(srcPath, "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
	case src.PersistentVolumeName != nil && *src.PersistentVolumeName == "":
		errs = append(errs, field.Required(srcPath.Child("persistentVolumeName"), "must specify non empty persistentVolumeName"))
	case src.InlineVolumeSpec != nil && src.InlineVolumeSpec.CSI == nil:
		errs = append(errs, field.Required(srcPath.Child("inlineVolumeSpec", "csi"), "has to be specified in the context of inline volumes"))
	}
	for _, msg := range apivalidation.NameIsDNSSubdomain(va.Spec.NodeName, false) {
		errs = append(errs, field.Invalid(sp.Child("nodeName"), va.Spec.NodeName, msg))
	}
	st := field.NewPath("status")
	size := 0
	for k, v := range va.Status.AttachmentMetadata {
		size += len(k) + len(v)
	}
	if size > 256*(1<<10) {
		errs = append(errs, field.TooLong(st.Child("attachmentMetadata"), "", 256*(1<<10)))
	}
	for _, ve := range []struct {
		name string
		err  *storagev1.VolumeError
	}{{"attachError", va.Status.AttachError}, {"detachError", va.Status.DetachError}} {
		name, e := ve.name, ve.err
		if e == nil {
			continue
		}
		if len(e.Message) > 1024 {
			errs = append(errs, field.TooLong(st.Child(name, "message"), "", 256*(1<<10)))
		}
		if e.ErrorCode != nil && *e.ErrorCode < 0 {
			errs = append(errs, field.Invalid(st.Child(name, "errorCode"), *e.ErrorCode, validation.InclusiveRangeError(0, math.MaxInt32)))
		}
	}
	// v1 also checks the attacher as a CSI driver name and the PV name.
	errs = append(errs, core.CSIDriverName(va.Spec.Attacher, field.NewPath("spec.attacher"))...)
	if pv := src.PersistentVolumeName; pv != nil {
		for _, msg := range apivalidation.NameIsDNSSubdomain(*pv, false) {
			errs = append(errs, field.Invalid(field.NewPath("spec.source.persistentVolumeName"), *pv, msg))
		}
	}
	return errs
}
