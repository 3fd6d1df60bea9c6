// Package autoscaling holds the strategies of horizontalpodautoscalers,
// served as autoscaling/v2 (stored, preferred) and autoscaling/v1. Both
// versions share one etcd key space: v1 objects are converted to v2 on the
// way in and back on the way out; what v1 cannot express travels in the
// autoscaling.alpha.kubernetes.io/{metrics,current-metrics,conditions,behavior}
// annotations, as upstream does, so a v1 round trip loses nothing.
//
//	in:  decoded autoscaling/v1 or v2 objects
//	out: defaulted, validated objects; stored v2 form; table rows
package autoscaling
