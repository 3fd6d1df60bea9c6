package garbagecollector

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func dependent(finalizers []string, owners ...types.UID) *metav1.ObjectMeta {
	m := &metav1.ObjectMeta{Name: "dep", Finalizers: finalizers}
	for _, uid := range owners {
		m.OwnerReferences = append(m.OwnerReferences, metav1.OwnerReference{UID: uid, BlockOwnerDeletion: ptr.To(true)})
	}
	return m
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name          string
		obj           *metav1.ObjectMeta
		owners        map[types.UID]OwnerState
		hasDependents bool
		want          Verdict
	}{
		{"no owners: nothing", dependent(nil), nil, false, Verdict{}},
		{"live owner keeps it", dependent(nil, "a"), map[types.UID]OwnerState{"a": Solid}, false, Verdict{}},
		{"owner gone: background delete", dependent(nil, "a"), map[types.UID]OwnerState{"a": Dangling}, false,
			Verdict{Delete: true, Policy: metav1.DeletePropagationBackground}},
		{"one of two owners gone: drop its reference", dependent(nil, "a", "b"), map[types.UID]OwnerState{"a": Solid, "b": Dangling}, false,
			Verdict{RemoveOwners: []types.UID{"b"}}},
		{"owner waiting, other owner alive: unblock by dropping the reference", dependent(nil, "a", "b"), map[types.UID]OwnerState{"a": Waiting, "b": Solid}, false,
			Verdict{RemoveOwners: []types.UID{"a"}}},
		{"owner waiting, no dependents: background delete", dependent(nil, "a"), map[types.UID]OwnerState{"a": Waiting}, false,
			Verdict{Delete: true, Policy: metav1.DeletePropagationBackground}},
		{"owner waiting, has dependents: foreground delete", dependent(nil, "a"), map[types.UID]OwnerState{"a": Waiting}, true,
			Verdict{Delete: true, Policy: metav1.DeletePropagationForeground}},
		{"orphan finalizer asks for orphan", dependent([]string{FinalizerOrphan}, "a"), map[types.UID]OwnerState{"a": Dangling}, true,
			Verdict{Delete: true, Policy: metav1.DeletePropagationOrphan}},
		{"foreground finalizer asks for foreground", dependent([]string{FinalizerForeground}, "a"), map[types.UID]OwnerState{"a": Dangling}, false,
			Verdict{Delete: true, Policy: metav1.DeletePropagationForeground}},
		{"unknown owner state counts as alive", dependent(nil, "a"), map[types.UID]OwnerState{}, false, Verdict{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(tt.obj, tt.owners, tt.hasDependents); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBlocking(t *testing.T) {
	d := dependent(nil, "a")
	d.OwnerReferences = append(d.OwnerReferences, metav1.OwnerReference{UID: "b"})
	if !Blocking(d, "a") || Blocking(d, "b") || Blocking(d, "c") {
		t.Error("Blocking follows blockOwnerDeletion of the reference to that owner")
	}
}
