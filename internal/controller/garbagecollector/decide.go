package garbagecollector

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Finalizers the API server adds for non-background deletion.
const (
	FinalizerForeground = metav1.FinalizerDeleteDependents // foregroundDeletion
	FinalizerOrphan     = metav1.FinalizerOrphanDependents // orphan
)

// OwnerState is what a live lookup says about one owner reference.
type OwnerState int

const (
	// Solid: the owner exists with that UID and is not deleting its
	// dependents.
	Solid OwnerState = iota
	// Dangling: no object of that name and UID exists (or can exist).
	Dangling
	// Waiting: the owner is being deleted in the foreground and waits for
	// its dependents to go.
	Waiting
)

// Verdict is what the collector does with a dependent.
type Verdict struct {
	// RemoveOwners lists owner references to drop (the object has another,
	// solid owner and stays).
	RemoveOwners []types.UID
	// Delete the object with Policy.
	Delete bool
	Policy metav1.DeletionPropagation
}

// Decide judges a dependent from the state of each of its owners (by UID)
// and whether it has dependents of its own:
//
//   - any solid owner keeps it; references to dangling and waiting owners
//     are removed so they neither linger nor block a foreground deletion;
//   - an owner waiting in the foreground and dependents of its own: delete
//     it in the foreground too, so the wait propagates down the tree;
//   - otherwise delete it, with the propagation its own finalizers ask for
//     (orphan, foregroundDeletion) or in the background.
func Decide(obj metav1.Object, owners map[types.UID]OwnerState, hasDependents bool) Verdict {
	var solid, waiting int
	var drop []types.UID
	for _, ref := range obj.GetOwnerReferences() {
		switch owners[ref.UID] {
		case Solid:
			solid++
		case Waiting:
			waiting++
			drop = append(drop, ref.UID)
		case Dangling:
			drop = append(drop, ref.UID)
		}
	}
	switch {
	case len(obj.GetOwnerReferences()) == 0:
		return Verdict{}
	case solid > 0:
		return Verdict{RemoveOwners: drop}
	case waiting > 0 && hasDependents:
		return Verdict{Delete: true, Policy: metav1.DeletePropagationForeground}
	}
	policy := metav1.DeletePropagationBackground
	switch {
	case hasFinalizer(obj, FinalizerOrphan):
		policy = metav1.DeletePropagationOrphan
	case hasFinalizer(obj, FinalizerForeground):
		policy = metav1.DeletePropagationForeground
	}
	return Verdict{Delete: true, Policy: policy}
}

func hasFinalizer(obj metav1.Object, f string) bool {
	for _, x := range obj.GetFinalizers() {
		if x == f {
			return true
		}
	}
	return false
}

func withoutFinalizer(fs []string, f string) []string {
	var out []string
	for _, x := range fs {
		if x != f {
			out = append(out, x)
		}
	}
	return out
}

// deletingInForeground reports whether obj waits for its dependents.
func deletingInForeground(obj metav1.Object) bool {
	return obj.GetDeletionTimestamp() != nil && hasFinalizer(obj, FinalizerForeground)
}

// Blocking reports whether dep's reference to owner blocks the owner's
// foreground deletion.
func Blocking(dep metav1.Object, owner types.UID) bool {
	for _, ref := range dep.GetOwnerReferences() {
		if ref.UID == owner && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
			return true
		}
	}
	return false
}
