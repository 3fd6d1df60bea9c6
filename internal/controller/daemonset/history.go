package daemonset

import (
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kedge-dev/kedge/internal/controller/deployment"
	"github.com/kedge-dev/kedge/internal/controller/internal/history"
)

// NewRevision snapshots the DaemonSet's template as revision number n,
// named <ds>-<hash> where the hash is the pod-template-hash of the template
// and status.collisionCount; it carries the template's labels plus
// controller-revision-hash, and the DaemonSet's annotations.
func NewRevision(ds *appsv1.DaemonSet, n int64) (*appsv1.ControllerRevision, error) {
	data, err := history.Patch(&ds.Spec.Template)
	if err != nil {
		return nil, err
	}
	hash := deployment.TemplateHash(&ds.Spec.Template, ds.Status.CollisionCount)
	lbls := make(map[string]string, len(ds.Spec.Template.Labels)+1)
	for k, v := range ds.Spec.Template.Labels {
		lbls[k] = v
	}
	lbls[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	var ann map[string]string
	if len(ds.Annotations) > 0 {
		ann = make(map[string]string, len(ds.Annotations))
		for k, v := range ds.Annotations {
			ann[k] = v
		}
	}
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            ds.Name + "-" + hash,
			Namespace:       ds.Namespace,
			Labels:          lbls,
			Annotations:     ann,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, controllerKind)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: n,
	}, nil
}

// Matches reports whether a revision holds the DaemonSet's template.
func Matches(ds *appsv1.DaemonSet, cr *appsv1.ControllerRevision) (bool, error) {
	data, err := history.Patch(&ds.Spec.Template)
	if err != nil {
		return false, err
	}
	return history.EqualData(data, cr.Data.Raw), nil
}

// HistoryPlan is how a sync brings the DaemonSet's revisions in line:
// Current is the revision of its template once Create (new) or Updates
// are written; Updates also add a missing hash label; Deletes are
// duplicates of Current, whose pods are first relabelled (Relabel).
type HistoryPlan struct {
	Current *appsv1.ControllerRevision
	Create  bool
	Updates []*appsv1.ControllerRevision
	Deletes []*appsv1.ControllerRevision
	Relabel []*corev1.Pod
	Old     []*appsv1.ControllerRevision // every other revision
}

// PlanHistory finds the DaemonSet's current revision among its revisions:
// the one matching its template, numbered above every other (a template
// that comes back, as with rollout undo, is renumbered), or a new one.
func PlanHistory(ds *appsv1.DaemonSet, revs []*appsv1.ControllerRevision, pods []*corev1.Pod) (HistoryPlan, error) {
	var hp HistoryPlan
	updated := map[string]*appsv1.ControllerRevision{}
	var current []*appsv1.ControllerRevision
	for _, r := range revs {
		if _, ok := r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; !ok {
			cp := r.DeepCopy()
			if cp.Labels == nil {
				cp.Labels = map[string]string{}
			}
			cp.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = cp.Name
			updated[cp.Name] = cp
			r = cp
		}
		ok, err := Matches(ds, r)
		if err != nil {
			return HistoryPlan{}, err
		}
		if ok {
			current = append(current, r)
		} else {
			hp.Old = append(hp.Old, r)
		}
	}
	next := history.Next(hp.Old)
	if len(current) == 0 {
		cur, err := NewRevision(ds, next)
		if err != nil {
			return HistoryPlan{}, err
		}
		hp.Current, hp.Create = cur, true
	} else {
		keep := current[0]
		for _, r := range current[1:] {
			if r.Revision >= keep.Revision {
				keep = r
			}
		}
		hash := keep.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
		for _, r := range current {
			if r != keep {
				hp.Deletes = append(hp.Deletes, r)
			}
		}
		if len(hp.Deletes) > 0 {
			for _, p := range pods {
				if p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != hash {
					hp.Relabel = append(hp.Relabel, p)
				}
			}
		}
		if keep.Revision < next {
			if updated[keep.Name] == nil {
				keep = keep.DeepCopy()
				updated[keep.Name] = keep
			}
			keep.Revision = next
		}
		hp.Current = keep
	}
	for _, r := range revs {
		if u := updated[r.Name]; u != nil && !contains(hp.Deletes, r.Name) {
			hp.Updates = append(hp.Updates, u)
		}
	}
	return hp, nil
}

func contains(revs []*appsv1.ControllerRevision, name string) bool {
	for _, r := range revs {
		if r.Name == name {
			return true
		}
	}
	return false
}

// HistoryToDelete picks the old revisions beyond revisionHistoryLimit,
// lowest number first, that no pod (finished ones included) still runs.
func HistoryToDelete(ds *appsv1.DaemonSet, old []*appsv1.ControllerRevision, pods []*corev1.Pod) []*appsv1.ControllerRevision {
	limit := 10
	if l := ds.Spec.RevisionHistoryLimit; l != nil {
		limit = int(*l)
	}
	toKill := len(old) - limit
	if toKill <= 0 {
		return nil
	}
	live := map[string]bool{}
	for _, p := range pods {
		if h := p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; h != "" {
			live[h] = true
		}
	}
	sorted := append([]*appsv1.ControllerRevision(nil), old...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Revision < sorted[j].Revision })
	var out []*appsv1.ControllerRevision
	for _, r := range sorted {
		if toKill == 0 {
			break
		}
		if live[r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]] {
			continue
		}
		out = append(out, r)
		toKill--
	}
	return out
}
