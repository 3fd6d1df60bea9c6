// Package auth holds the review APIs of authentication.k8s.io and
// authorization.k8s.io: create-only resources that answer a question about
// the requesting user and store nothing.
package auth

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kedge-dev/kedge/internal/registry"
)

// allowedReason explains every decision until an authorizer (RBAC) exists:
// kedge lets every authenticated user do everything.
const allowedReason = "kedge authorizes every authenticated request"

var createOnly = []string{"create"}

// SelfSubjectReviews answers "who am I" (`kubectl auth whoami`).
func SelfSubjectReviews() *registry.Resource {
	return &registry.Resource{
		GVK: authenticationv1.SchemeGroupVersion.WithKind("SelfSubjectReview"), Name: "selfsubjectreviews", Verbs: createOnly,
		New:     func() runtime.Object { return &authenticationv1.SelfSubjectReview{} },
		NewList: func() runtime.Object { return &authenticationv1.SelfSubjectReview{} },
		Review: func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
			r := obj.(*authenticationv1.SelfSubjectReview)
			u, _ := registry.UserFrom(ctx)
			r.Status.UserInfo = userInfo(u)
			return r, nil
		},
	}
}

// TokenReviews answers "who does this bearer token authenticate" for
// another component (a webhook, an aggregated API server). The server's
// token authenticator comes with the request context.
func TokenReviews() *registry.Resource {
	return &registry.Resource{
		GVK: authenticationv1.SchemeGroupVersion.WithKind("TokenReview"), Name: "tokenreviews", Verbs: createOnly,
		New:     func() runtime.Object { return &authenticationv1.TokenReview{} },
		NewList: func() runtime.Object { return &authenticationv1.TokenReview{} },
		Review: func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
			r := obj.(*authenticationv1.TokenReview)
			if r.Spec.Token == "" {
				return nil, apierrors.NewBadRequest("token is required for TokenReview in authentication")
			}
			r.Status = authenticationv1.TokenReviewStatus{}
			review, ok := registry.TokenReviewerFrom(ctx)
			if !ok {
				return r, nil
			}
			u, auds, err := review(ctx, r.Spec.Token, r.Spec.Audiences)
			if err != nil {
				r.Status.Error = err.Error()
				return r, nil
			}
			r.Status.Authenticated = true
			r.Status.User = userInfo(u)
			r.Status.Audiences = auds
			return r, nil
		},
	}
}

func userInfo(u registry.User) authenticationv1.UserInfo {
	info := authenticationv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
	if len(u.Extra) > 0 {
		info.Extra = map[string]authenticationv1.ExtraValue{}
		for k, v := range u.Extra {
			info.Extra[k] = authenticationv1.ExtraValue(v)
		}
	}
	return info
}

// SelfSubjectAccessReviews answers "may I" (`kubectl auth can-i`).
func SelfSubjectAccessReviews() *registry.Resource {
	return &registry.Resource{
		GVK: authorizationv1.SchemeGroupVersion.WithKind("SelfSubjectAccessReview"), Name: "selfsubjectaccessreviews", Verbs: createOnly,
		New:     func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} },
		NewList: func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} },
		Review: func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
			r := obj.(*authorizationv1.SelfSubjectAccessReview)
			if err := oneOfAttributes(r.Spec.ResourceAttributes != nil, r.Spec.NonResourceAttributes != nil, "SelfSubjectAccessReview"); err != nil {
				return nil, err
			}
			r.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: allowedReason}
			return r, nil
		},
	}
}

// SubjectAccessReviews answers "may this user" for any user.
func SubjectAccessReviews() *registry.Resource {
	return &registry.Resource{
		GVK: authorizationv1.SchemeGroupVersion.WithKind("SubjectAccessReview"), Name: "subjectaccessreviews", Verbs: createOnly,
		New:     func() runtime.Object { return &authorizationv1.SubjectAccessReview{} },
		NewList: func() runtime.Object { return &authorizationv1.SubjectAccessReview{} },
		Review: func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
			r := obj.(*authorizationv1.SubjectAccessReview)
			if err := oneOfAttributes(r.Spec.ResourceAttributes != nil, r.Spec.NonResourceAttributes != nil, "SubjectAccessReview"); err != nil {
				return nil, err
			}
			if r.Spec.User == "" && len(r.Spec.Groups) == 0 {
				return nil, apierrors.NewInvalid(r.GroupVersionKind().GroupKind(), "", field.ErrorList{
					field.Invalid(field.NewPath("spec", "user"), r.Spec.User, "at least one of user or group must be specified")})
			}
			r.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: allowedReason}
			return r, nil
		},
	}
}

func oneOfAttributes(resource, nonResource bool, kind string) error {
	if resource == nonResource {
		return apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind(kind).GroupKind(), "", field.ErrorList{
			field.Invalid(field.NewPath("spec", "resourceAttributes"), nil, "exactly one of nonResourceAttributes or resourceAttributes must be specified")})
	}
	return nil
}
