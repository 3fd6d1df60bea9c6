package apps

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kedge-dev/kedge/internal/registry"
)

// ControllerRevisions is the strategy of apps/v1 controllerrevisions: the
// immutable snapshots of a template that StatefulSets and DaemonSets roll
// between.
func ControllerRevisions() *registry.Resource {
	return &registry.Resource{
		GVK: appsv1.SchemeGroupVersion.WithKind("ControllerRevision"), Name: "controllerrevisions", Namespaced: true,
		New:     func() runtime.Object { return &appsv1.ControllerRevision{} },
		NewList: func() runtime.Object { return &appsv1.ControllerRevisionList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			cr := obj.(*appsv1.ControllerRevision)
			var errs field.ErrorList
			if cr.Data.Raw == nil && cr.Data.Object == nil {
				errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
			}
			return append(errs, apivalidation.ValidateNonnegativeField(cr.Revision, field.NewPath("revision"))...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			cr, o := obj.(*appsv1.ControllerRevision), old.(*appsv1.ControllerRevision)
			if !apiequality.Semantic.DeepEqual(cr.Data, o.Data) {
				return field.ErrorList{field.Invalid(field.NewPath("data"), cr.Data, "field is immutable")}
			}
			return nil
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Controller", "string", 0, "Controller of the object"),
			registry.Col("Revision", "string", 0, appsv1.ControllerRevision{}.SwaggerDoc()["revision"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			cr := obj.(*appsv1.ControllerRevision)
			controller := "<none>"
			if ref := metav1.GetControllerOf(cr); ref != nil {
				if gv, err := schema.ParseGroupVersion(ref.APIVersion); err == nil {
					controller = strings.ToLower(gv.WithKind(ref.Kind).GroupKind().String()) + "/" + ref.Name
				}
			}
			return []interface{}{cr.Name, controller, cr.Revision, registry.Age(cr.CreationTimestamp)}
		},
	}
}
