// Package events serves events.k8s.io/v1 events. They are the core/v1
// events seen through the newer API: one set of etcd keys
// (/registry/events/...), stored as core/v1, converted field by field on
// the way in and out, so that an event written through either API is read
// through both.
//
//	events.k8s.io/v1          core/v1
//	note                  <-> message
//	regarding             <-> involvedObject
//	related               <-> related
//	reportingController   <-> reportingComponent (Go: ReportingController)
//	reportingInstance     <-> reportingInstance
//	deprecatedSource      <-> source
//	deprecatedFirstTimestamp, deprecatedLastTimestamp, deprecatedCount
//	                      <-> firstTimestamp, lastTimestamp, count
//	eventTime, series, action, reason, type: same names
package events

import (
	"context"
	"fmt"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/registry/core"
)

// Length limits of event fields.
const (
	reportingInstanceLimit = 128
	actionLimit            = 128
	reasonLimit            = 128
	noteLimit              = 1024
)

// Events is the strategy of events.k8s.io/v1 events.
func Events() *registry.Resource {
	gk := eventsv1.SchemeGroupVersion.WithKind("Event").GroupKind()
	return &registry.Resource{
		GVK: eventsv1.SchemeGroupVersion.WithKind("Event"), Name: "events", ShortNames: []string{"ev"}, Namespaced: true,
		New:     func() runtime.Object { return &eventsv1.Event{} },
		NewList: func() runtime.Object { return &eventsv1.EventList{} },
		Storage: &registry.StorageAccess{
			Resource: "events",
			GVK:      corev1.SchemeGroupVersion.WithKind("Event"),
			New:      func() runtime.Object { return &corev1.Event{} },
			ToStorage: func(obj runtime.Object) (runtime.Object, error) {
				ev, ok := obj.(*eventsv1.Event)
				if !ok {
					return nil, fmt.Errorf("events.k8s.io: want *v1.Event, got %T", obj)
				}
				return ToCore(ev), nil
			},
			FromStorage: func(stored runtime.Object) (runtime.Object, error) {
				ev, ok := stored.(*corev1.Event)
				if !ok {
					return nil, fmt.Errorf("events.k8s.io: stored object is %T, not a core/v1 Event", stored)
				}
				return FromCore(ev), nil
			},
		},
		// Creates are held to the strict rules of the new API; updates only
		// to the legacy ones and to what may not change. (The registry has
		// no create-only validation, so the create rules run here.)
		BeforeCreate: func(_ context.Context, obj runtime.Object) (map[string]string, error) {
			e := ToCore(obj.(*eventsv1.Event))
			if errs := validateCreate(e); len(errs) > 0 {
				return nil, apierrors.NewInvalid(gk, e.Name, errs)
			}
			return nil, nil
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validateUpdate(ToCore(obj.(*eventsv1.Event)), ToCore(old.(*eventsv1.Event)))
		},
		Fields: func(obj runtime.Object) fields.Set {
			e := obj.(*eventsv1.Event)
			return fields.Set{
				"reason": e.Reason, "type": e.Type, "reportingController": e.ReportingController, "source": e.DeprecatedSource.Component,
				"regarding.kind": e.Regarding.Kind, "regarding.namespace": e.Regarding.Namespace, "regarding.name": e.Regarding.Name,
				"regarding.uid": string(e.Regarding.UID), "regarding.apiVersion": e.Regarding.APIVersion,
				"regarding.resourceVersion": e.Regarding.ResourceVersion, "regarding.fieldPath": e.Regarding.FieldPath,
			}
		},
		Columns: core.EventColumns(),
		Row:     func(obj runtime.Object) []interface{} { return core.EventRow(ToCore(obj.(*eventsv1.Event))) },
	}
}

// ToCore converts an events.k8s.io/v1 Event to its stored core/v1 form.
func ToCore(e *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		TypeMeta:            metav1.TypeMeta{APIVersion: "v1", Kind: "Event"},
		ObjectMeta:          *e.ObjectMeta.DeepCopy(),
		InvolvedObject:      e.Regarding,
		Reason:              e.Reason,
		Message:             e.Note,
		Source:              e.DeprecatedSource,
		FirstTimestamp:      e.DeprecatedFirstTimestamp,
		LastTimestamp:       e.DeprecatedLastTimestamp,
		Count:               e.DeprecatedCount,
		Type:                e.Type,
		EventTime:           e.EventTime,
		Action:              e.Action,
		ReportingController: e.ReportingController,
		ReportingInstance:   e.ReportingInstance,
	}
	if e.Series != nil {
		out.Series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	if e.Related != nil {
		r := *e.Related
		out.Related = &r
	}
	return out
}

// FromCore converts a stored core/v1 Event to events.k8s.io/v1.
func FromCore(e *corev1.Event) *eventsv1.Event {
	out := &eventsv1.Event{
		TypeMeta:                 metav1.TypeMeta{APIVersion: eventsv1.SchemeGroupVersion.String(), Kind: "Event"},
		ObjectMeta:               *e.ObjectMeta.DeepCopy(),
		EventTime:                e.EventTime,
		ReportingController:      e.ReportingController,
		ReportingInstance:        e.ReportingInstance,
		Action:                   e.Action,
		Reason:                   e.Reason,
		Regarding:                e.InvolvedObject,
		Note:                     e.Message,
		Type:                     e.Type,
		DeprecatedSource:         e.Source,
		DeprecatedFirstTimestamp: e.FirstTimestamp,
		DeprecatedLastTimestamp:  e.LastTimestamp,
		DeprecatedCount:          e.Count,
	}
	if e.Series != nil {
		out.Series = &eventsv1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	if e.Related != nil {
		r := *e.Related
		out.Related = &r
	}
	return out
}

// validateLegacy is what every event must satisfy, through either API.
// Field paths name the core/v1 fields, as upstream reports them.
func validateLegacy(e *corev1.Event) field.ErrorList {
	var errs field.ErrorList
	nsPath := field.NewPath("involvedObject", "namespace")
	if e.EventTime.IsZero() {
		if e.InvolvedObject.Namespace == "" {
			if e.Namespace != metav1.NamespaceNone && e.Namespace != metav1.NamespaceDefault {
				errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, "does not match event.namespace"))
			}
		} else if e.Namespace != e.InvolvedObject.Namespace {
			errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, "does not match event.namespace"))
		}
	} else {
		if e.InvolvedObject.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
			errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, "does not match event.namespace"))
		}
		rc := field.NewPath("reportingController")
		if e.ReportingController == "" {
			errs = append(errs, field.Required(rc, ""))
		}
		for _, msg := range validation.IsQualifiedName(e.ReportingController) {
			errs = append(errs, field.Invalid(rc, e.ReportingController, msg))
		}
		for _, f := range []struct {
			name, value string
			limit       int
		}{{"reportingInstance", e.ReportingInstance, reportingInstanceLimit}, {"action", e.Action, actionLimit}, {"reason", e.Reason, reasonLimit}} {
			if f.value == "" {
				errs = append(errs, field.Required(field.NewPath(f.name), ""))
			}
			if len(f.value) > f.limit {
				errs = append(errs, field.Invalid(field.NewPath(f.name), "", fmt.Sprintf("can have at most %v characters", f.limit)))
			}
		}
		if len(e.Message) > noteLimit {
			errs = append(errs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", noteLimit)))
		}
	}
	for _, msg := range validation.IsDNS1123Subdomain(e.Namespace) {
		errs = append(errs, field.Invalid(field.NewPath("namespace"), e.Namespace, msg))
	}
	return errs
}

func validateSeries(e *corev1.Event) field.ErrorList {
	var errs field.ErrorList
	if s := e.Series; s != nil {
		if s.Count < 2 {
			errs = append(errs, field.Invalid(field.NewPath("series.count"), "", "should be at least 2"))
		}
		if s.LastObservedTime.IsZero() {
			errs = append(errs, field.Required(field.NewPath("series.lastObservedTime"), ""))
		}
	}
	return errs
}

// validateCreate is the strict validation of an event created through
// events.k8s.io/v1.
func validateCreate(e *corev1.Event) field.ErrorList {
	errs := validateLegacy(e)
	errs = append(errs, validateSeries(e)...)
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", e.Type)))
	}
	if !e.FirstTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedFirstTimestamp"), "", "needs to be unset"))
	}
	if !e.LastTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedLastTimestamp"), "", "needs to be unset"))
	}
	if e.Count != 0 {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedCount"), "", "needs to be unset"))
	}
	if e.Source.Component != "" || e.Source.Host != "" {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedSource"), "", "needs to be unset"))
	}
	return errs
}

// validateUpdate: only the series (and metadata) of an event may change.
func validateUpdate(e, old *corev1.Event) field.ErrorList {
	errs := validateLegacy(e)
	if !reflect.DeepEqual(e.Series, old.Series) {
		errs = append(errs, validateSeries(e)...)
	}
	immutable := func(n, o interface{}, name string) {
		errs = append(errs, apivalidation.ValidateImmutableField(n, o, field.NewPath(name))...)
	}
	immutable(e.InvolvedObject, old.InvolvedObject, "involvedObject")
	immutable(e.Reason, old.Reason, "reason")
	immutable(e.Message, old.Message, "message")
	immutable(e.Source, old.Source, "source")
	immutable(e.FirstTimestamp, old.FirstTimestamp, "firstTimestamp")
	immutable(e.LastTimestamp, old.LastTimestamp, "lastTimestamp")
	immutable(e.Count, old.Count, "count")
	immutable(e.Reason, old.Reason, "reason")
	immutable(e.Type, old.Type, "type")
	// Clients that serialize nanoseconds must not trip over the stored
	// microseconds.
	if !e.EventTime.Truncate(time.Microsecond).UTC().Equal(old.EventTime.Truncate(time.Microsecond).UTC()) {
		immutable(e.EventTime, old.EventTime, "eventTime")
	}
	immutable(e.Action, old.Action, "action")
	immutable(e.Related, old.Related, "related")
	immutable(e.ReportingController, old.ReportingController, "reportingController")
	immutable(e.ReportingInstance, old.ReportingInstance, "reportingInstance")
	return errs
}
