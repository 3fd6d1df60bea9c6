package serviceaccount

import (
	"strings"

	"github.com/golang-jwt/jwt/v5"
	authenticationv1 "k8s.io/api/authentication/v1"
)

const (
	// DefaultIssuer is the "iss" of bound tokens and the default API
	// audience, as kube-apiserver is usually configured.
	DefaultIssuer = "https://kubernetes.default.svc.cluster.local"
	// LegacyIssuer is the "iss" of Secret-based tokens.
	LegacyIssuer = "kubernetes/serviceaccount"

	// DefaultExpirationSeconds is a TokenRequest's lifetime when it asks for none.
	DefaultExpirationSeconds = 60 * 60
	// MinExpirationSeconds is the shortest lifetime a TokenRequest may ask for.
	MinExpirationSeconds = 10 * 60
	// MaxExpirationSeconds is the longest (2^32 seconds).
	MaxExpirationSeconds = 1 << 32
	// WarnOnlyExpirationSeconds is the lifetime of the projected token the
	// ServiceAccount admission adds to pods (one hour and seven seconds):
	// such a token is issued for ExtendedExpirationSeconds and only warns
	// (the "warnafter" claim) after the hour.
	WarnOnlyExpirationSeconds = 60*60 + 7
	// ExtendedExpirationSeconds is the real lifetime of such a token (a year).
	ExtendedExpirationSeconds = 365 * 24 * 60 * 60

	// UserPrefix starts the user name of every ServiceAccount.
	UserPrefix = "system:serviceaccount:"
	// AllGroup holds every ServiceAccount; GroupPrefix+<namespace> those
	// of one namespace.
	AllGroup    = "system:serviceaccounts"
	GroupPrefix = "system:serviceaccounts:"

	// Keys of the user's extra information, as upstream sets them.
	PodNameKey      = "authentication.kubernetes.io/pod-name"
	PodUIDKey       = "authentication.kubernetes.io/pod-uid"
	NodeNameKey     = "authentication.kubernetes.io/node-name"
	NodeUIDKey      = "authentication.kubernetes.io/node-uid"
	CredentialIDKey = "authentication.kubernetes.io/credential-id"
)

// UserName is the user name of a ServiceAccount.
func UserName(namespace, name string) string {
	return UserPrefix + namespace + ":" + name
}

// SplitUserName returns the namespace and name of a ServiceAccount user
// name; ok is false for other names.
func SplitUserName(user string) (namespace, name string, ok bool) {
	rest, found := strings.CutPrefix(user, UserPrefix)
	if !found {
		return "", "", false
	}
	namespace, name, found = strings.Cut(rest, ":")
	if !found || namespace == "" || name == "" || strings.Contains(name, ":") {
		return "", "", false
	}
	return namespace, name, true
}

// Ref names a bound object and the UID it had when the token was issued.
type Ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// KubernetesClaims is the private claim "kubernetes.io" of a bound token.
type KubernetesClaims struct {
	Namespace      string `json:"namespace,omitempty"`
	Node           *Ref   `json:"node,omitempty"`
	Pod            *Ref   `json:"pod,omitempty"`
	Secret         *Ref   `json:"secret,omitempty"`
	ServiceAccount Ref    `json:"serviceaccount"`
	// WarnAfter, set on tokens whose lifetime was extended, is when the
	// requested lifetime ended.
	WarnAfter *jwt.NumericDate `json:"warnafter,omitempty"`
}

// Claims are the claims of a token: the registered ones, the private claim
// of bound tokens, and the flat private claims of legacy tokens.
type Claims struct {
	jwt.RegisteredClaims
	Kubernetes *KubernetesClaims `json:"kubernetes.io,omitempty"`

	LegacyNamespace          string `json:"kubernetes.io/serviceaccount/namespace,omitempty"`
	LegacySecretName         string `json:"kubernetes.io/serviceaccount/secret.name,omitempty"`
	LegacyServiceAccountName string `json:"kubernetes.io/serviceaccount/service-account.name,omitempty"`
	LegacyServiceAccountUID  string `json:"kubernetes.io/serviceaccount/service-account.uid,omitempty"`
}

// identity is who a verified token speaks for.
type identity struct {
	namespace, name, uid string
	pod, node            *Ref
	jti                  string
}

// userInfo is the user a ServiceAccount token authenticates as. The
// authenticated group is added here too: the API server adds it to every
// authenticated user, and a TokenReview reports it.
func (id identity) userInfo() authenticationv1.UserInfo {
	u := authenticationv1.UserInfo{
		Username: UserName(id.namespace, id.name),
		UID:      id.uid,
		Groups:   []string{AllGroup, GroupPrefix + id.namespace, "system:authenticated"},
	}
	extra := map[string]authenticationv1.ExtraValue{}
	if id.pod != nil && id.pod.Name != "" && id.pod.UID != "" {
		extra[PodNameKey] = authenticationv1.ExtraValue{id.pod.Name}
		extra[PodUIDKey] = authenticationv1.ExtraValue{id.pod.UID}
	}
	if id.jti != "" {
		extra[CredentialIDKey] = authenticationv1.ExtraValue{"JTI=" + id.jti}
	}
	if id.node != nil && id.node.Name != "" {
		extra[NodeNameKey] = authenticationv1.ExtraValue{id.node.Name}
		if id.node.UID != "" {
			extra[NodeUIDKey] = authenticationv1.ExtraValue{id.node.UID}
		}
	}
	if len(extra) > 0 {
		u.Extra = extra
	}
	return u
}
