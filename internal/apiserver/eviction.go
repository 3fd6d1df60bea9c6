package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kedge-dev/kedge/internal/registry"
)

var pdbGVR = schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}

// maxDisruptedPods bounds a budget's record of evictions its controller has
// not yet seen, as upstream does.
const maxDisruptedPods = 2000

// serveEviction evicts a pod (pods/eviction): it deletes the pod unless that
// would break the PodDisruptionBudget covering it. Admitted evictions are
// recorded in the budget's status (disruptionsAllowed-1, disruptedPods) in
// the same step, so that concurrent evictions cannot overspend it.
func (s *Server) serveEviction(ctx context.Context, w http.ResponseWriter, r *http.Request, res *registry.Resource, ri requestInfo) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var ev policyv1.Eviction
	if err := s.codec.decodeInto(contentType(r), body, &ev); err != nil {
		writeError(w, err)
		return
	}
	if ev.Name != ri.name {
		writeError(w, apierrors.NewBadRequest("name in URL does not match name in Eviction object"))
		return
	}
	opts := deleteOptions{dryRun: isDryRun(r)}
	if do := ev.DeleteOptions; do != nil {
		opts.grace, opts.precondition = do.GracePeriodSeconds, do.Preconditions
		opts.dryRun = opts.dryRun || len(do.DryRun) > 0
	}
	obj, _, err := s.get(ctx, res, ri.namespace, ri.name)
	if err != nil {
		writeError(w, err)
		return
	}
	pod := obj.(*corev1.Pod)
	if !evictionIgnoresBudgets(pod) {
		if err := s.spendDisruption(ctx, pod, opts.dryRun); err != nil {
			writeError(w, err)
			return
		}
	}
	if _, _, err := s.delete(ctx, res, ri.namespace, ri.name, opts); err != nil {
		writeError(w, err)
		return
	}
	writeValue(w, http.StatusCreated, statusSuccess(nil))
}

// evictionIgnoresBudgets says a pod can go whatever its budget: it has
// finished, never started, or is already being deleted.
func evictionIgnoresBudgets(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed, corev1.PodPending:
		return true
	}
	return pod.DeletionTimestamp != nil
}

// spendDisruption finds the one budget that covers pod and takes one
// allowed disruption from it, or says why the pod cannot be evicted now.
func (s *Server) spendDisruption(ctx context.Context, pod *corev1.Pod, dryRun bool) error {
	pdbRes, ok := s.reg.Lookup(pdbGVR)
	if !ok {
		return nil
	}
	for attempt := 0; attempt < 5; attempt++ {
		lr, err := s.listEtcd(ctx, pdbRes, pod.Namespace, url.Values{})
		if err != nil {
			return err
		}
		var covering []*policyv1.PodDisruptionBudget
		for _, o := range lr.items {
			pdb := o.(*policyv1.PodDisruptionBudget)
			if pdb.Spec.Selector == nil {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
				continue
			}
			covering = append(covering, pdb)
		}
		switch len(covering) {
		case 0:
			return nil
		case 1:
		default:
			return apierrors.NewInternalError(fmt.Errorf("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))
		}
		pdb := covering[0]
		if !podReady(pod) && pdb.Spec.UnhealthyPodEvictionPolicy != nil &&
			*pdb.Spec.UnhealthyPodEvictionPolicy == policyv1.AlwaysAllow {
			return nil
		}
		if !podReady(pod) && pdb.Status.ObservedGeneration == pdb.Generation &&
			pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0 {
			return nil // an unready pod of a healthy budget (IfHealthyBudget)
		}
		if err := checkBudget(pdb); err != nil {
			return err
		}
		if dryRun {
			return nil
		}
		pdb.Status.DisruptionsAllowed--
		if pdb.Status.DisruptedPods == nil {
			pdb.Status.DisruptedPods = map[string]metav1.Time{}
		}
		pdb.Status.DisruptedPods[pod.Name] = metav1.Time{Time: time.Now()}
		_, kv, err := s.get(ctx, pdbRes, pdb.Namespace, pdb.Name)
		if err != nil {
			return err
		}
		if fmt.Sprint(kv.Rev) != pdb.ResourceVersion {
			continue // the budget changed since it was read
		}
		err = s.writeBack(ctx, pdbRes, pdb, kv)
		if apierrors.IsConflict(err) {
			continue
		}
		return err
	}
	return apierrors.NewConflict(pdbGVR.GroupResource(), pod.Name, fmt.Errorf("the disruption budget kept changing; try again"))
}

// checkBudget refuses an eviction that the budget's status does not allow,
// with upstream's reasons and messages.
func checkBudget(pdb *policyv1.PodDisruptionBudget) error {
	tooMany := func(cause string) error {
		err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes,
			metav1.StatusCause{Type: policyv1.DisruptionBudgetCause, Message: cause})
		return err
	}
	gr := pdbGVR.GroupResource()
	switch {
	case pdb.Status.ObservedGeneration < pdb.Generation:
		return tooMany("The disruption budget " + pdb.Name + " is still being processed by the server.")
	case pdb.Status.DisruptionsAllowed < 0:
		return apierrors.NewForbidden(gr, pdb.Name, fmt.Errorf("pdb disruptions allowed is negative"))
	case len(pdb.Status.DisruptedPods) > maxDisruptedPods:
		return apierrors.NewForbidden(gr, pdb.Name, fmt.Errorf("DisruptedPods map too big - too many evictions not confirmed by PDB controller"))
	case pdb.Status.DisruptionsAllowed == 0:
		return tooMany(fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently",
			pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy))
	}
	return nil
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
