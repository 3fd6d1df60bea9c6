package apiserver

import (
	"context"
	"crypto"
	"fmt"
	"net/http"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/serviceaccount"
)

var (
	serviceAccountsGVR = corev1.SchemeGroupVersion.WithResource("serviceaccounts")
	podsGVR            = corev1.SchemeGroupVersion.WithResource("pods")
	secretsGVR         = corev1.SchemeGroupVersion.WithResource("secrets")
	nodesGVR           = corev1.SchemeGroupVersion.WithResource("nodes")
	tokenRequestGK     = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest").GroupKind()
)

// setupTokens builds the token issuer and authenticator from the signing
// key, if the server has one.
func (s *Server) setupTokens() error {
	if s.cfg.ServiceAccountKey == nil {
		return nil
	}
	iss, err := serviceaccount.NewIssuer(s.cfg.ServiceAccountIssuer, s.cfg.ServiceAccountKey)
	if err != nil {
		return err
	}
	auth, err := serviceaccount.NewAuthenticator(serviceaccount.AuthenticatorConfig{
		Keys:    []crypto.PublicKey{iss.PublicKey()},
		Issuers: []string{iss.Issuer()},
		Getter:  storeGetter{s},
	})
	if err != nil {
		return err
	}
	s.issuer, s.tokens = iss, auth
	return nil
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// authenticateToken authenticates a bearer token meant for one of
// audiences (nil: the API server's own).
func (s *Server) authenticateToken(ctx context.Context, token string, audiences []string) (registry.User, []string, error) {
	if s.tokens == nil {
		return registry.User{}, nil, serviceaccount.ErrInvalidToken
	}
	resp, err := s.tokens.Authenticate(ctx, token, audiences)
	if err != nil {
		return registry.User{}, nil, err
	}
	u := registry.User{Name: resp.User.Username, UID: resp.User.UID, Groups: resp.User.Groups}
	if len(resp.User.Extra) > 0 {
		u.Extra = map[string][]string{}
		for k, v := range resp.User.Extra {
			u.Extra[k] = v
		}
	}
	return u, resp.Audiences, nil
}

// reviewContext gives a review (TokenReviews) the server's token
// authenticator.
func (s *Server) reviewContext(ctx context.Context) context.Context {
	if s.tokens == nil {
		return ctx
	}
	return registry.WithTokenReviewer(ctx, func(ctx context.Context, token string, audiences []string) (registry.User, []string, error) {
		if len(audiences) == 0 {
			audiences = nil
		}
		return s.authenticateToken(ctx, token, audiences)
	})
}

// storeGetter reads the objects tokens name from the server's storage.
type storeGetter struct{ s *Server }

func getAs[T runtime.Object](ctx context.Context, s *Server, gvr schema.GroupVersionResource, ns, name string) (T, error) {
	var zero T
	res, ok := s.reg.Lookup(gvr)
	if !ok {
		return zero, fmt.Errorf("no resource %s", gvr)
	}
	obj, _, err := s.get(ctx, res, ns, name)
	if err != nil {
		return zero, err
	}
	t, ok := obj.(T)
	if !ok {
		return zero, fmt.Errorf("%s %s/%s: unexpected type %T", gvr.Resource, ns, name, obj)
	}
	return t, nil
}

func (g storeGetter) ServiceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	return getAs[*corev1.ServiceAccount](ctx, g.s, serviceAccountsGVR, ns, name)
}

func (g storeGetter) Pod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	return getAs[*corev1.Pod](ctx, g.s, podsGVR, ns, name)
}

func (g storeGetter) Secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	return getAs[*corev1.Secret](ctx, g.s, secretsGVR, ns, name)
}

func (g storeGetter) Node(ctx context.Context, name string) (*corev1.Node, error) {
	return getAs[*corev1.Node](ctx, g.s, nodesGVR, "", name)
}

// serveToken issues a token for a service account
// (serviceaccounts/<name>/token, a TokenRequest), as upstream does.
func (s *Server) serveToken(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo) {
	if s.issuer == nil {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{}, ""))
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req authenticationv1.TokenRequest
	if err := s.codec.decodeInto(contentType(r), body, &req); err != nil {
		writeError(w, err)
		return
	}
	out, err := s.issueToken(ctx, ri.namespace, ri.name, &req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeValue(w, http.StatusCreated, out)
}

func (s *Server) issueToken(ctx context.Context, ns, name string, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	if req.Name != "" && req.Name != name {
		return nil, apierrors.NewInvalid(tokenRequestGK, name, field.ErrorList{
			field.Invalid(field.NewPath("metadata", "name"), req.Name, "must match the service account name if specified")})
	}
	if req.Namespace != "" && req.Namespace != ns {
		return nil, apierrors.NewInvalid(tokenRequestGK, name, field.ErrorList{
			field.Invalid(field.NewPath("metadata", "namespace"), req.Namespace, "must match the service account namespace if specified")})
	}
	sa, err := storeGetter{s}.ServiceAccount(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	if req.UID != "" && req.UID != sa.UID {
		return nil, apierrors.NewConflict(schema.GroupResource{Group: tokenRequestGK.Group, Resource: tokenRequestGK.Kind}, name,
			fmt.Errorf("the UID in the token request (%s) does not match the UID of the service account (%s)", req.UID, sa.UID))
	}
	if len(req.Spec.Audiences) == 0 {
		req.Spec.Audiences = s.tokens.APIAudiences()
	}
	if req.Spec.ExpirationSeconds == nil {
		exp := int64(serviceaccount.DefaultExpirationSeconds)
		req.Spec.ExpirationSeconds = &exp
	}
	req.Name, req.Namespace, req.UID = sa.Name, sa.Namespace, sa.UID
	req.Status = authenticationv1.TokenRequestStatus{}
	if errs := validateTokenRequest(req); len(errs) > 0 {
		return nil, apierrors.NewInvalid(tokenRequestGK, "", errs)
	}
	tr := serviceaccount.Request{ServiceAccount: sa, Audiences: req.Spec.Audiences, ExpirationSeconds: *req.Spec.ExpirationSeconds}
	if ref := req.Spec.BoundObjectRef; ref != nil {
		if err := s.bindToken(ctx, ns, name, ref, &tr); err != nil {
			return nil, err
		}
	}
	// The projected token the ServiceAccount admission adds to pods lives
	// a year and only warns after the hour it asked for, as upstream's
	// --service-account-extend-token-expiration does.
	if tr.Pod != nil && tr.ExpirationSeconds == serviceaccount.WarnOnlyExpirationSeconds && subset(req.Spec.Audiences, s.tokens.APIAudiences()) {
		tr.WarnAfterSeconds, tr.ExpirationSeconds = tr.ExpirationSeconds, serviceaccount.ExtendedExpirationSeconds
	}
	token, claims, err := s.issuer.Issue(tr)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("failed to generate token: %v", err))
	}
	issued := claims.IssuedAt.Time
	req.TypeMeta = metav1.TypeMeta{Kind: "TokenRequest", APIVersion: authenticationv1.SchemeGroupVersion.String()}
	req.CreationTimestamp = metav1.NewTime(issued)
	req.Status = authenticationv1.TokenRequestStatus{
		Token:               token,
		ExpirationTimestamp: metav1.NewTime(issued.Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second)),
	}
	return req, nil
}

// bindToken finds the object a token is bound to.
func (s *Server) bindToken(ctx context.Context, ns, saName string, ref *authenticationv1.BoundObjectReference, tr *serviceaccount.Request) error {
	g := storeGetter{s}
	gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
	var uid string
	switch {
	case gvk.Group == "" && gvk.Kind == "Pod":
		pod, err := g.Pod(ctx, ns, ref.Name)
		if err != nil {
			return err
		}
		if pod.Spec.ServiceAccountName != saName {
			return apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", saName))
		}
		tr.Pod, uid = pod, string(pod.UID)
		if node := pod.Spec.NodeName; node != "" {
			n, err := g.Node(ctx, node)
			switch {
			case apierrors.IsNotFound(err):
				n = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}
			case err != nil:
				return apierrors.NewInternalError(err)
			}
			tr.Node = n
		}
	case gvk.Group == "" && gvk.Kind == "Node":
		n, err := g.Node(ctx, ref.Name)
		if err != nil {
			return err
		}
		tr.Node, uid = n, string(n.UID)
	case gvk.Group == "" && gvk.Kind == "Secret":
		sec, err := g.Secret(ctx, ns, ref.Name)
		if err != nil {
			return err
		}
		tr.Secret, uid = sec, string(sec.UID)
	default:
		return apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", gvk.String()))
	}
	if ref.UID != "" && string(ref.UID) != uid {
		return apierrors.NewConflict(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, ref.Name,
			fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	return nil
}

func validateTokenRequest(req *authenticationv1.TokenRequest) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec", "expirationSeconds")
	exp := *req.Spec.ExpirationSeconds
	if exp < serviceaccount.MinExpirationSeconds {
		errs = append(errs, field.Invalid(p, exp, "may not specify a duration less than 10 minutes"))
	}
	if exp > serviceaccount.MaxExpirationSeconds {
		errs = append(errs, field.Invalid(p, exp, "may not specify a duration larger than 2^32 seconds"))
	}
	return errs
}
