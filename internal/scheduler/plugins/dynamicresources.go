package plugins

import (
	v1 "k8s.io/api/core/v1"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

// DynamicResources stands where upstream's DRA plugin sits at PostFilter.
// kedge does not allocate ResourceClaims, so there is never a claim to
// deallocate; upstream (DRA on by default since 1.34) says so in every
// failure message, and so do we, so that messages read the same.
type DynamicResources struct{}

// ErrReasonNoClaimsToDeallocate is upstream's PostFilter reason.
const ErrReasonNoClaimsToDeallocate = "no new claims to deallocate"

func (*DynamicResources) Name() string { return DynamicResourcesName }

func (*DynamicResources) PostFilter(*framework.CycleState, *v1.Pod, *framework.Snapshot, map[string]*framework.Status, framework.FilterFunc) (*framework.PostFilterResult, *framework.Status) {
	return nil, framework.NewStatus(framework.Unschedulable, ErrReasonNoClaimsToDeallocate)
}
