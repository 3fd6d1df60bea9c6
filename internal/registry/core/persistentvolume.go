package core

import (
	"path"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry"
)

// betaStorageClassAnnotation is the storage class a PV or PVC named before
// spec.storageClassName existed; it still wins when set.
const betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

var (
	accessModes  = []string{"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"}
	volumeModes  = []string{"Block", "Filesystem"}
	pvReclaimAll = []string{"Delete", "Recycle", "Retain"}
	hostPathAll  = []string{"", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"}
)

// PersistentVolumes is the strategy of core/v1 persistentvolumes.
func PersistentVolumes() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("PersistentVolume"), Name: "persistentvolumes", ShortNames: []string{"pv"},
		Status:  true,
		New:     func() runtime.Object { return &corev1.PersistentVolume{} },
		NewList: func() runtime.Object { return &corev1.PersistentVolumeList{} },
		PrepareForCreate: func(obj runtime.Object) {
			now := metav1.NewTime(time.Now().Truncate(time.Second))
			obj.(*corev1.PersistentVolume).Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending, LastPhaseTransitionTime: &now}
		},
		Default: func(obj runtime.Object) {
			pv := obj.(*corev1.PersistentVolume)
			if pv.Status.Phase == "" {
				pv.Status.Phase = corev1.VolumePending
			}
			if pv.Spec.PersistentVolumeReclaimPolicy == "" {
				pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
			}
			if pv.Spec.VolumeMode == nil {
				pv.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
			}
			if hp := pv.Spec.HostPath; hp != nil && hp.Type == nil {
				hp.Type = ptr.To(corev1.HostPathUnset)
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validatePVSpec(&obj.(*corev1.PersistentVolume).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			pv, o := obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume)
			var errs field.ErrorList
			if !equality.Semantic.DeepEqual(pv.Spec.PersistentVolumeSource, o.Spec.PersistentVolumeSource) {
				errs = append(errs, field.Forbidden(field.NewPath("spec", "persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
			}
			errs = append(errs, apivalidation.ValidateImmutableField(pv.Spec.VolumeMode, o.Spec.VolumeMode, field.NewPath("volumeMode"))...)
			if o.Spec.VolumeAttributesClassName != nil && pv.Spec.VolumeAttributesClassName == nil {
				errs = append(errs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update from non-nil value to nil is forbidden"))
			}
			return errs
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Capacity", "string", 0, corev1.PersistentVolumeSpec{}.SwaggerDoc()["capacity"]),
			registry.Col("Access Modes", "string", 0, corev1.PersistentVolumeSpec{}.SwaggerDoc()["accessModes"]),
			registry.Col("Reclaim Policy", "string", 0, corev1.PersistentVolumeSpec{}.SwaggerDoc()["persistentVolumeReclaimPolicy"]),
			registry.Col("Status", "string", 0, corev1.PersistentVolumeStatus{}.SwaggerDoc()["phase"]),
			registry.Col("Claim", "string", 0, corev1.PersistentVolumeSpec{}.SwaggerDoc()["claimRef"]),
			registry.Col("StorageClass", "string", 0, "StorageClass of the pv"),
			registry.Col("VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pv"),
			registry.Col("Reason", "string", 0, corev1.PersistentVolumeStatus{}.SwaggerDoc()["reason"]),
			registry.AgeColumn,
			registry.Col("VolumeMode", "string", 1, corev1.PersistentVolumeSpec{}.SwaggerDoc()["volumeMode"]),
		},
		Row: func(obj runtime.Object) []interface{} {
			pv := obj.(*corev1.PersistentVolume)
			claim := ""
			if r := pv.Spec.ClaimRef; r != nil {
				claim = r.Namespace + "/" + r.Name
			}
			phase := string(pv.Status.Phase)
			if pv.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			class := pv.Spec.StorageClassName
			if a, ok := pv.Annotations[betaStorageClassAnnotation]; ok {
				class = a
			}
			capacity := pv.Spec.Capacity[corev1.ResourceStorage]
			return []interface{}{pv.Name, capacity.String(), accessModesString(pv.Spec.AccessModes),
				string(pv.Spec.PersistentVolumeReclaimPolicy), phase, claim, class, unsetOr(pv.Spec.VolumeAttributesClassName),
				pv.Status.Reason, registry.Age(pv.CreationTimestamp), volumeModeString(pv.Spec.VolumeMode)}
		},
	}
}

// PersistentVolumeClaims is the strategy of core/v1 persistentvolumeclaims.
func PersistentVolumeClaims() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"), Name: "persistentvolumeclaims", ShortNames: []string{"pvc"},
		Namespaced: true, Status: true,
		New:     func() runtime.Object { return &corev1.PersistentVolumeClaim{} },
		NewList: func() runtime.Object { return &corev1.PersistentVolumeClaimList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*corev1.PersistentVolumeClaim).Status = corev1.PersistentVolumeClaimStatus{}
		},
		Default: func(obj runtime.Object) {
			pvc := obj.(*corev1.PersistentVolumeClaim)
			if pvc.Status.Phase == "" {
				pvc.Status.Phase = corev1.ClaimPending
			}
			if pvc.Spec.VolumeMode == nil {
				pvc.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return ValidatePVCSpec(&obj.(*corev1.PersistentVolumeClaim).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validatePVCUpdate(obj.(*corev1.PersistentVolumeClaim), old.(*corev1.PersistentVolumeClaim))
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Status", "string", 0, corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["phase"]),
			registry.Col("Volume", "string", 0, corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeName"]),
			registry.Col("Capacity", "string", 0, corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["capacity"]),
			registry.Col("Access Modes", "string", 0, corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["accessModes"]),
			registry.Col("StorageClass", "string", 0, "StorageClass of the pvc"),
			registry.Col("VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pvc"),
			registry.AgeColumn,
			registry.Col("VolumeMode", "string", 1, corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeMode"]),
		},
		Row: func(obj runtime.Object) []interface{} {
			pvc := obj.(*corev1.PersistentVolumeClaim)
			phase := string(pvc.Status.Phase)
			if pvc.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			capacity, modes := "", ""
			if pvc.Spec.VolumeName != "" {
				modes = accessModesString(pvc.Status.AccessModes)
				q := pvc.Status.Capacity[corev1.ResourceStorage]
				capacity = q.String()
			}
			class := ptr.Deref(pvc.Spec.StorageClassName, "")
			if a, ok := pvc.Annotations[betaStorageClassAnnotation]; ok {
				class = a
			}
			return []interface{}{pvc.Name, phase, pvc.Spec.VolumeName, capacity, modes, class,
				unsetOr(pvc.Spec.VolumeAttributesClassName), registry.Age(pvc.CreationTimestamp), volumeModeString(pvc.Spec.VolumeMode)}
		},
	}
}

// volumeSources lists a PV's sources in the order upstream checks them, by
// the field name its errors use.
func volumeSources(s *corev1.PersistentVolumeSource) []struct {
	name string
	set  bool
} {
	return []struct {
		name string
		set  bool
	}{
		{"hostPath", s.HostPath != nil}, {"gcePersistentDisk", s.GCEPersistentDisk != nil},
		{"awsElasticBlockStore", s.AWSElasticBlockStore != nil}, {"glusterfs", s.Glusterfs != nil},
		{"flocker", s.Flocker != nil}, {"nfs", s.NFS != nil}, {"rbd", s.RBD != nil}, {"quobyte", s.Quobyte != nil},
		{"cephFS", s.CephFS != nil}, {"iscsi", s.ISCSI != nil}, {"cinder", s.Cinder != nil}, {"fc", s.FC != nil},
		{"flexVolume", s.FlexVolume != nil}, {"azureFile", s.AzureFile != nil}, {"vsphereVolume", s.VsphereVolume != nil},
		{"photonPersistentDisk", s.PhotonPersistentDisk != nil}, {"portworxVolume", s.PortworxVolume != nil},
		{"azureDisk", s.AzureDisk != nil}, {"scaleIO", s.ScaleIO != nil}, {"local", s.Local != nil},
		{"storageos", s.StorageOS != nil}, {"csi", s.CSI != nil},
	}
}

func validatePVSpec(spec *corev1.PersistentVolumeSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(p.Child("accessModes"), ""))
	}
	errs = append(errs, validateAccessModes(spec.AccessModes, p.Child("accessModes"))...)
	if len(spec.Capacity) == 0 {
		errs = append(errs, field.Required(p.Child("capacity"), ""))
	}
	if _, ok := spec.Capacity[corev1.ResourceStorage]; !ok || len(spec.Capacity) > 1 {
		errs = append(errs, field.NotSupported(p.Child("capacity"), spec.Capacity, []string{string(corev1.ResourceStorage)}))
	}
	for name, q := range spec.Capacity {
		kp := p.Child("capacity").Key(string(name))
		if q.Value() < 0 {
			errs = append(errs, field.Invalid(kp, q.Value(), "must be a valid resource quantity"))
		}
		errs = append(errs, positiveQuantity(q, kp)...)
	}
	if r := spec.PersistentVolumeReclaimPolicy; r != "" && !contains(pvReclaimAll, string(r)) {
		errs = append(errs, field.NotSupported(p.Child("persistentVolumeReclaimPolicy"), r, pvReclaimAll))
	}
	affinity := false
	if na := spec.NodeAffinity; na != nil {
		if na.Required == nil {
			errs = append(errs, field.Required(p.Child("nodeAffinity", "required"), "must specify required node constraints"))
		} else {
			affinity = true
			if len(na.Required.NodeSelectorTerms) == 0 {
				errs = append(errs, field.Required(p.Child("nodeAffinity", "required", "nodeSelectorTerms"), "must have at least one node selector term"))
			}
		}
	}
	n := 0
	for _, src := range volumeSources(&spec.PersistentVolumeSource) {
		if !src.set {
			continue
		}
		// flexVolume is counted but never refused as a second type, as upstream.
		if n > 0 && src.name != "flexVolume" {
			errs = append(errs, field.Forbidden(p.Child(src.name), "may not specify more than 1 volume type"))
			continue
		}
		n++
		errs = append(errs, validatePVSource(spec, src.name, p)...)
		if src.name == "local" && !affinity {
			errs = append(errs, field.Required(p.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
	}
	if n == 0 {
		errs = append(errs, field.Required(p, "must specify a volume type"))
	}
	if hp := spec.HostPath; hp != nil && path.Clean(hp.Path) == "/" && spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimRecycle {
		errs = append(errs, field.Forbidden(p.Child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"))
	}
	if spec.StorageClassName != "" {
		errs = append(errs, className(spec.StorageClassName, p.Child("storageClassName"))...)
	}
	if m := spec.VolumeMode; m != nil && !contains(volumeModes, string(*m)) {
		errs = append(errs, field.NotSupported(p.Child("volumeMode"), *m, volumeModes))
	}
	if vac := spec.VolumeAttributesClassName; vac != nil {
		if *vac == "" {
			errs = append(errs, field.Required(p.Child("volumeAttributesClassName"), "an empty string is disallowed"))
		} else {
			errs = append(errs, className(*vac, p.Child("volumeAttributesClassName"))...)
		}
		if spec.CSI == nil {
			errs = append(errs, field.Required(p.Child("csi"), "has to be specified when using volumeAttributesClassName"))
		}
	}
	return errs
}

// validatePVSource checks the sources kedge can serve (hostPath, local,
// nfs, csi); the cloud ones are stored as given.
func validatePVSource(spec *corev1.PersistentVolumeSpec, name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch name {
	case "hostPath":
		hp := spec.HostPath
		if hp.Path == "" {
			errs = append(errs, field.Required(p.Child("hostPath", "path"), ""))
		} else {
			errs = append(errs, noBacksteps(hp.Path, p.Child("hostPath", "path"))...)
		}
		if hp.Type != nil && !contains(hostPathAll, string(*hp.Type)) {
			errs = append(errs, field.NotSupported(p.Child("hostPath", "type"), *hp.Type, hostPathAll))
		}
	case "local":
		if spec.Local.Path == "" {
			errs = append(errs, field.Required(p.Child("local", "path"), ""))
		} else {
			errs = append(errs, noBacksteps(spec.Local.Path, p.Child("local", "path"))...)
		}
	case "nfs":
		if spec.NFS.Server == "" {
			errs = append(errs, field.Required(p.Child("nfs", "server"), ""))
		}
		if spec.NFS.Path == "" {
			errs = append(errs, field.Required(p.Child("nfs", "path"), ""))
		} else if !path.IsAbs(spec.NFS.Path) {
			errs = append(errs, field.Invalid(p.Child("nfs", "path"), spec.NFS.Path, "must be an absolute path"))
		}
	case "csi":
		errs = append(errs, CSIDriverName(spec.CSI.Driver, p.Child("csi", "driver"))...)
		if spec.CSI.VolumeHandle == "" {
			errs = append(errs, field.Required(p.Child("csi", "volumeHandle"), ""))
		}
	}
	return errs
}

func noBacksteps(s string, p *field.Path) field.ErrorList {
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(p, s, "must not contain '..'")}
		}
	}
	return nil
}

// CSIDriverName checks the name of a CSI driver as upstream does wherever
// one is referenced.
func CSIDriverName(name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p, ""))
	}
	if len(name) > 63 {
		errs = append(errs, field.TooLong(p, "", 63))
	}
	for _, msg := range validation.IsDNS1123Subdomain(strings.ToLower(name)) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// ValidatePVCSpec checks a claim spec (also inside StatefulSet templates).
func ValidatePVCSpec(spec *corev1.PersistentVolumeClaimSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(p.Child("accessModes"), "at least 1 access mode is required"))
	}
	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
	}
	errs = append(errs, validateAccessModes(spec.AccessModes, p.Child("accessModes"))...)
	storagePath := p.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(storagePath, ""))
	} else if e := positiveQuantity(q, storagePath); len(e) > 0 {
		errs = append(errs, e...)
	}
	if c := spec.StorageClassName; c != nil && *c != "" {
		errs = append(errs, className(*c, p.Child("storageClassName"))...)
	}
	if m := spec.VolumeMode; m != nil && !contains(volumeModes, string(*m)) {
		errs = append(errs, field.NotSupported(p.Child("volumeMode"), *m, volumeModes))
	}
	if ds := spec.DataSource; ds != nil {
		errs = append(errs, validateDataSource(ds.Name, ds.Kind, ds.APIGroup, p.Child("dataSource"))...)
	}
	if ds := spec.DataSourceRef; ds != nil {
		errs = append(errs, validateDataSource(ds.Name, ds.Kind, ds.APIGroup, p.Child("dataSourceRef"))...)
	}
	if vac := spec.VolumeAttributesClassName; vac != nil && *vac != "" {
		errs = append(errs, className(*vac, p.Child("volumeAttributesClassName"))...)
	}
	return errs
}

func validateDataSource(name, kind string, group *string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	if kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	}
	g := ptr.Deref(group, "")
	if g == "" && kind != "PersistentVolumeClaim" {
		errs = append(errs, field.Invalid(p, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
	}
	if g != "" {
		for _, msg := range validation.IsDNS1123Subdomain(g) {
			errs = append(errs, field.Invalid(p.Child("apiGroup"), g, msg))
		}
	}
	return errs
}

// validatePVCUpdate: a claim's spec is fixed once created, except that the
// binder sets volumeName once and a bound claim may grow.
func validatePVCUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	var errs field.ErrorList
	next, prev := pvc.Spec.DeepCopy(), old.Spec.DeepCopy()
	if prev.VolumeName == "" {
		prev.VolumeName = next.VolumeName
	}
	if prev.StorageClassName == nil && next.StorageClassName != nil {
		if a, ok := old.Annotations[betaStorageClassAnnotation]; !ok || a == *next.StorageClassName {
			prev.StorageClassName = next.StorageClassName
		}
	}
	if pvc.Status.Phase == corev1.ClaimBound && next.Resources.Requests != nil {
		if q, ok := prev.Resources.Requests[corev1.ResourceStorage]; ok {
			next.Resources.Requests[corev1.ResourceStorage] = q
		} else {
			delete(next.Resources.Requests, corev1.ResourceStorage)
		}
	}
	next.VolumeAttributesClassName = prev.VolumeAttributesClassName
	if !equality.Semantic.DeepEqual(next, prev) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	newSize := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	oldSize := old.Spec.Resources.Requests[corev1.ResourceStorage]
	statusSize := old.Status.Capacity[corev1.ResourceStorage]
	if newSize.Cmp(oldSize) < 0 && newSize.Cmp(statusSize) <= 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"), "field can not be less than status.capacity"))
	}
	errs = append(errs, apivalidation.ValidateImmutableField(pvc.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	if o := old.Spec.VolumeAttributesClassName; o != nil {
		if n := pvc.Spec.VolumeAttributesClassName; n == nil {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update from non-nil value to nil is forbidden"))
		} else if *n == "" {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update from non-nil value to an empty string is forbidden"))
		}
	}
	return errs
}

// validateAccessModes: each mode must be known, and ReadWriteOncePod stands
// alone.
func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rwop, other := false, false
	for _, m := range modes {
		if !contains(accessModes, string(m)) {
			errs = append(errs, field.NotSupported(p, m, accessModes))
			continue
		}
		if m == corev1.ReadWriteOncePod {
			rwop = true
		} else {
			other = true
		}
	}
	if rwop && other {
		errs = append(errs, field.Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

func positiveQuantity(q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Cmp(resource.Quantity{}) <= 0 {
		return field.ErrorList{field.Invalid(p, q.String(), "must be greater than zero")}
	}
	return nil
}

func nonNegativeQuantity(q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Cmp(resource.Quantity{}) < 0 {
		return field.ErrorList{field.Invalid(p, q.String(), apivalidation.IsNegativeErrorMsg)}
	}
	return nil
}

func className(name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range apivalidation.NameIsDNSSubdomain(name, false) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// accessModesString prints access modes as kubectl does: RWO,ROX,RWX,RWOP.
func accessModesString(modes []corev1.PersistentVolumeAccessMode) string {
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"}, {corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"}} {
		for _, have := range modes {
			if have == m.mode {
				out = append(out, m.short)
				break
			}
		}
	}
	return strings.Join(out, ",")
}

func volumeModeString(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

func unsetOr(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
