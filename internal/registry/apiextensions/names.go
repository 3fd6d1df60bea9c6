package apiextensions

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// Names of a group are first come, first served: a CRD's plural, singular,
// short names, kind and list kind are accepted unless another CRD of the
// group already holds them. NameStatus is the pure part of upstream's
// naming and establishing controllers.

// NameStatus returns crd's status with its accepted names and its
// NamesAccepted and Established conditions brought up to date, given the
// other CRDs of its group; changed says whether anything differs from
// crd.Status.
func NameStatus(crd *apiextensionsv1.CustomResourceDefinition, group []*apiextensionsv1.CustomResourceDefinition) (apiextensionsv1.CustomResourceDefinitionStatus, bool) {
	out := crd.DeepCopy()
	if !reflect.DeepEqual(crd.Spec.Names, crd.Status.AcceptedNames) || Condition(crd, apiextensionsv1.NamesAccepted) == nil {
		names, cond := acceptNames(crd, group)
		out.Status.AcceptedNames = names
		SetCondition(out, cond)
	}
	if IsConditionTrue(out, apiextensionsv1.NamesAccepted) {
		if !IsConditionTrue(out, apiextensionsv1.Established) {
			SetCondition(out, apiextensionsv1.CustomResourceDefinitionCondition{
				Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue,
				Reason: "InitialNamesAccepted", Message: "the initial names have been accepted",
			})
		}
	} else if Condition(out, apiextensionsv1.Established) == nil {
		SetCondition(out, apiextensionsv1.CustomResourceDefinitionCondition{
			Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionFalse,
			Reason: "NotAccepted", Message: "not all names are accepted",
		})
	}
	return out.Status, !reflect.DeepEqual(out.Status, crd.Status)
}

// acceptNames decides which of the requested names crd may have.
func acceptNames(crd *apiextensionsv1.CustomResourceDefinition, group []*apiextensionsv1.CustomResourceDefinition) (apiextensionsv1.CustomResourceDefinitionNames, apiextensionsv1.CustomResourceDefinitionCondition) {
	resources, kinds := map[string]bool{}, map[string]bool{}
	for _, other := range group {
		if other.Name == crd.Name || other.Spec.Group != crd.Spec.Group {
			continue
		}
		a := other.Status.AcceptedNames
		for _, n := range append([]string{a.Plural, a.Singular}, a.ShortNames...) {
			resources[n] = true
		}
		kinds[a.Kind], kinds[a.ListKind] = true, true
	}
	requested, accepted := crd.Spec.Names, crd.Status.AcceptedNames
	names := accepted
	cond := apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionTrue,
		Reason: "NoConflicts", Message: "no conflicts found"}
	conflict := func(reason string, err error) {
		cond.Status, cond.Reason, cond.Message = apiextensionsv1.ConditionFalse, reason, err.Error()
	}
	if err := freeOrOurs(requested.Plural, accepted.Plural, resources); err != nil {
		conflict("PluralConflict", err)
	} else {
		names.Plural = requested.Plural
	}
	if err := freeOrOurs(requested.Singular, accepted.Singular, resources); err != nil {
		conflict("SingularConflict", err)
	} else {
		names.Singular = requested.Singular
	}
	if !reflect.DeepEqual(requested.ShortNames, accepted.ShortNames) {
		ours := map[string]bool{}
		for _, s := range accepted.ShortNames {
			ours[s] = true
		}
		var msgs []string
		for _, s := range requested.ShortNames {
			if ours[s] {
				continue
			}
			if err := freeOrOurs(s, "", resources); err != nil {
				msgs = append(msgs, err.Error())
			}
		}
		switch len(msgs) {
		case 0:
			names.ShortNames = requested.ShortNames
		case 1:
			conflict("ShortNamesConflict", fmt.Errorf("%s", msgs[0]))
		default:
			conflict("ShortNamesConflict", fmt.Errorf("[%s]", strings.Join(msgs, ", ")))
		}
	}
	if err := freeOrOurs(requested.Kind, accepted.Kind, kinds); err != nil {
		conflict("KindConflict", err)
	} else {
		names.Kind = requested.Kind
	}
	if err := freeOrOurs(requested.ListKind, accepted.ListKind, kinds); err != nil {
		conflict("ListKindConflict", err)
	} else {
		names.ListKind = requested.ListKind
	}
	names.Categories = requested.Categories
	return names, cond
}

func freeOrOurs(requested, accepted string, used map[string]bool) error {
	if requested == accepted || !used[requested] {
		return nil
	}
	return fmt.Errorf("%q is already in use", requested)
}

// ByAge orders CRDs oldest first (then by name): the order names are
// handed out in.
func ByAge(crds []*apiextensionsv1.CustomResourceDefinition) {
	sort.SliceStable(crds, func(i, j int) bool {
		a, b := crds[i].CreationTimestamp, crds[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return crds[i].Name < crds[j].Name
	})
}
