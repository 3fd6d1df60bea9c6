// Package rbac holds the strategies of rbac.authorization.k8s.io/v1: roles,
// rolebindings, clusterroles and clusterrolebindings. They are stored and
// validated here; authorizing requests with them is the authorizer's job.
package rbac

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	rbacv1beta1 "k8s.io/api/rbac/v1beta1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kedge-dev/kedge/internal/registry"
)

// nameValidation: RBAC names only need to be valid path segments.
func nameValidation(name string, _ bool) []string { return content.IsPathSegmentName(name) }

// Roles is the strategy of rbac.authorization.k8s.io/v1 roles. Upstream
// has no printer for roles: they print as Name and Created At.
func Roles() *registry.Resource {
	return &registry.Resource{
		GVK: rbacv1.SchemeGroupVersion.WithKind("Role"), Name: "roles", Namespaced: true,
		NameValidation: nameValidation,
		New:            func() runtime.Object { return &rbacv1.Role{} },
		NewList:        func() runtime.Object { return &rbacv1.RoleList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateRules(obj.(*rbacv1.Role).Rules, true)
		},
	}
}

// ClusterRoles is the strategy of rbac.authorization.k8s.io/v1 clusterroles.
func ClusterRoles() *registry.Resource {
	return &registry.Resource{
		GVK: rbacv1.SchemeGroupVersion.WithKind("ClusterRole"), Name: "clusterroles",
		NameValidation: nameValidation,
		New:            func() runtime.Object { return &rbacv1.ClusterRole{} },
		NewList:        func() runtime.Object { return &rbacv1.ClusterRoleList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			cr := obj.(*rbacv1.ClusterRole)
			errs := validateRules(cr.Rules, false)
			if ar := cr.AggregationRule; ar != nil {
				sp := field.NewPath("aggregationRule", "clusterRoleSelectors")
				if len(ar.ClusterRoleSelectors) == 0 {
					errs = append(errs, field.Required(sp, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
				}
				for i := range ar.ClusterRoleSelectors {
					ip := sp.Index(i)
					errs = append(errs, metav1validation.ValidateLabelSelector(&ar.ClusterRoleSelectors[i], metav1validation.LabelSelectorValidationOptions{}, ip)...)
					if sel, err := metav1.LabelSelectorAsSelector(&ar.ClusterRoleSelectors[i]); err == nil && sel.Empty() {
						errs = append(errs, field.Invalid(ip, sel.String(), "empty selectors are not allowed"))
					}
				}
			}
			return errs
		},
	}
}

func validateRules(rules []rbacv1.PolicyRule, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		p := field.NewPath("rules").Index(i)
		if len(r.Verbs) == 0 {
			errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(r.NonResourceURLs) > 0 {
			if namespaced {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.Resources) == 0 {
			errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
		}
		if len(r.ResourceNames) > 0 && len(r.Resources) > 1 {
			errs = append(errs, field.Required(p.Child("resourceNames"), "resource names cannot apply to multiple resources"))
		}
	}
	return errs
}

// RoleBindings is the strategy of rbac.authorization.k8s.io/v1 rolebindings.
func RoleBindings() *registry.Resource {
	return &registry.Resource{
		GVK: rbacv1.SchemeGroupVersion.WithKind("RoleBinding"), Name: "rolebindings", Namespaced: true,
		NameValidation: nameValidation,
		New:            func() runtime.Object { return &rbacv1.RoleBinding{} },
		NewList:        func() runtime.Object { return &rbacv1.RoleBindingList{} },
		Default: func(obj runtime.Object) {
			rb := obj.(*rbacv1.RoleBinding)
			defaultBinding(&rb.RoleRef, rb.Subjects)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			rb := obj.(*rbacv1.RoleBinding)
			return validateBinding(rb.RoleRef, rb.Subjects, true)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return roleRefFixed(obj.(*rbacv1.RoleBinding).RoleRef, old.(*rbacv1.RoleBinding).RoleRef)
		},
		Columns: bindingColumns("roleBinding", rbacv1beta1.RoleBinding{}.SwaggerDoc()["roleRef"]),
		Row: func(obj runtime.Object) []interface{} {
			rb := obj.(*rbacv1.RoleBinding)
			return bindingRow(rb.Name, rb.RoleRef, rb.Subjects, rb.CreationTimestamp)
		},
	}
}

// ClusterRoleBindings is the strategy of rbac.authorization.k8s.io/v1
// clusterrolebindings.
func ClusterRoleBindings() *registry.Resource {
	return &registry.Resource{
		GVK: rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding"), Name: "clusterrolebindings",
		NameValidation: nameValidation,
		New:            func() runtime.Object { return &rbacv1.ClusterRoleBinding{} },
		NewList:        func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
		Default: func(obj runtime.Object) {
			crb := obj.(*rbacv1.ClusterRoleBinding)
			defaultBinding(&crb.RoleRef, crb.Subjects)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			crb := obj.(*rbacv1.ClusterRoleBinding)
			return validateBinding(crb.RoleRef, crb.Subjects, false)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return roleRefFixed(obj.(*rbacv1.ClusterRoleBinding).RoleRef, old.(*rbacv1.ClusterRoleBinding).RoleRef)
		},
		Columns: bindingColumns("clusterRoleBinding", rbacv1beta1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"]),
		Row: func(obj runtime.Object) []interface{} {
			crb := obj.(*rbacv1.ClusterRoleBinding)
			return bindingRow(crb.Name, crb.RoleRef, crb.Subjects, crb.CreationTimestamp)
		},
	}
}

// defaultBinding fills in the API group of the role reference and of user
// and group subjects.
func defaultBinding(ref *rbacv1.RoleRef, subjects []rbacv1.Subject) {
	if ref.APIGroup == "" {
		ref.APIGroup = rbacv1.GroupName
	}
	for i := range subjects {
		s := &subjects[i]
		if s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = rbacv1.GroupName
		}
	}
}

func validateBinding(ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	rp := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(rp.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	kinds := []string{"ClusterRole"}
	if namespaced {
		kinds = []string{"Role", "ClusterRole"}
	}
	if ref.Kind != "ClusterRole" && (!namespaced || ref.Kind != "Role") {
		errs = append(errs, field.NotSupported(rp.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(rp.Child("name"), ""))
	} else {
		for _, msg := range content.IsPathSegmentName(ref.Name) {
			errs = append(errs, field.Invalid(rp.Child("name"), ref.Name, msg))
		}
	}
	for i, s := range subjects {
		errs = append(errs, validateSubject(s, namespaced, field.NewPath("subjects").Index(i))...)
	}
	return errs
}

func validateSubject(s rbacv1.Subject, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		if s.Name != "" {
			for _, msg := range apivalidation.ValidateServiceAccountName(s.Name, false) {
				errs = append(errs, field.Invalid(p.Child("name"), s.Name, msg))
			}
		}
		if s.APIGroup != "" {
			errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
		}
		if !namespaced && s.Namespace == "" {
			errs = append(errs, field.Required(p.Child("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if s.Name == "" {
			errs = append(errs, field.Invalid(p.Child("name"), s.Name, strings.ToLower(s.Kind)+" name cannot be empty"))
		}
		if s.APIGroup != rbacv1.GroupName {
			errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return errs
}

func roleRefFixed(ref, old rbacv1.RoleRef) field.ErrorList {
	if ref != old {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef")}
	}
	return nil
}

// bindingColumns are the columns of both binding kinds; upstream describes
// ROLE with the v1beta1 field documentation.
func bindingColumns(kind, roleDoc string) []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{registry.NameColumn,
		registry.Col("Role", "string", 0, roleDoc),
		registry.AgeColumn,
		registry.Col("Users", "string", 1, "Users in the "+kind),
		registry.Col("Groups", "string", 1, "Groups in the "+kind),
		registry.Col("ServiceAccounts", "string", 1, "ServiceAccounts in the "+kind),
	}
}

// bindingRow prints ROLE as Kind/name and the subjects by kind, service
// accounts as namespace/name.
func bindingRow(name string, ref rbacv1.RoleRef, subjects []rbacv1.Subject, created metav1.Time) []interface{} {
	users, groups, sas := []string{}, []string{}, []string{}
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		}
	}
	return []interface{}{name, ref.Kind + "/" + ref.Name, registry.Age(created),
		strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
}
