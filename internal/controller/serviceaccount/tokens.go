package serviceaccount

import (
	"bytes"
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// TokensName is the tokens controller's name in logs.
const TokensName = "serviceaccount-token-controller"

// TokenGenerator signs the legacy (never-expiring) token of a Secret named
// secretName for sa; *serviceaccount.Issuer's IssueLegacy is one.
type TokenGenerator interface {
	IssueLegacy(sa *corev1.ServiceAccount, secretName string) (string, error)
}

// TokensOptions configure a TokensController.
type TokensOptions struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Tokens    TokenGenerator
	// RootCA goes into each token Secret as ca.crt.
	RootCA  []byte
	Workers int
}

// TokensController fills Secrets of type kubernetes.io/service-account-token
// (annotated kubernetes.io/service-account.name) with a token, ca.crt and
// namespace, and deletes those whose service account is gone.
type TokensController struct {
	client   kubernetes.Interface
	tokens   TokenGenerator
	rootCA   []byte
	workers  int
	saLister corelisters.ServiceAccountLister
	secrets  corelisters.SecretLister
	synced   []cache.InformerSynced
	queue    ctrlutil.Queue // token secrets, namespace/name
}

// NewTokens wires the tokens controller to the shared informers.
func NewTokens(o TokensOptions) (*TokensController, error) {
	saInf := o.Informers.Core().V1().ServiceAccounts()
	secInf := o.Informers.Core().V1().Secrets()
	c := &TokensController{
		client:   o.Client,
		tokens:   o.Tokens,
		rootCA:   o.RootCA,
		workers:  o.Workers,
		saLister: saInf.Lister(),
		secrets:  secInf.Lister(),
		synced:   []cache.InformerSynced{saInf.Informer().HasSynced, secInf.Informer().HasSynced},
		queue:    ctrlutil.NewQueue(TokensName),
	}
	enqueueSecret := func(obj any) {
		if s, ok := ctrlutil.FromTombstone[*corev1.Secret](obj); ok && s.Type == corev1.SecretTypeServiceAccountToken {
			c.queue.Add(s.Namespace + "/" + s.Name)
		}
	}
	if _, err := secInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueSecret,
		UpdateFunc: func(_, cur any) { enqueueSecret(cur) },
	}); err != nil {
		return nil, fmt.Errorf("secret informer: %w", err)
	}
	// A deleted service account takes its token Secrets along: each is
	// synced, finds its account gone and is deleted.
	if _, err := saInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			sa, ok := ctrlutil.FromTombstone[*corev1.ServiceAccount](obj)
			if !ok {
				return
			}
			secrets, _ := c.secrets.Secrets(sa.Namespace).List(labels.Everything())
			for _, s := range secrets {
				if s.Type == corev1.SecretTypeServiceAccountToken && s.Annotations[corev1.ServiceAccountNameKey] == sa.Name {
					c.queue.Add(s.Namespace + "/" + s.Name)
				}
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("serviceaccount informer: %w", err)
	}
	return c, nil
}

// Run processes token Secrets until ctx is cancelled.
func (c *TokensController) Run(ctx context.Context) error {
	return ctrlutil.RunWorkers(ctx, TokensName, c.queue, c.workers, c.sync, c.synced...)
}

// TokenSecretAction is what a token Secret needs.
type TokenSecretAction int

const (
	SecretOK     TokenSecretAction = iota // nothing to do
	SecretDelete                          // its service account is gone
	SecretFill                            // token, ca.crt or namespace missing or stale
)

// PlanTokenSecret decides for a token Secret given its service account
// (nil: none with the annotated name and, if annotated, UID).
func PlanTokenSecret(secret *corev1.Secret, sa *corev1.ServiceAccount, rootCA []byte) TokenSecretAction {
	if sa == nil {
		return SecretDelete
	}
	needsCA := len(rootCA) > 0 && !bytes.Equal(secret.Data[corev1.ServiceAccountRootCAKey], rootCA)
	needsNamespace := len(secret.Data[corev1.ServiceAccountNamespaceKey]) == 0
	needsToken := len(secret.Data[corev1.ServiceAccountTokenKey]) == 0
	if needsCA || needsNamespace || needsToken {
		return SecretFill
	}
	return SecretOK
}

// Fill sets what a token Secret lacks: ca.crt, namespace, a token (from
// token) and the service account annotations.
func Fill(secret *corev1.Secret, sa *corev1.ServiceAccount, rootCA []byte, tokens TokenGenerator) error {
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	if len(rootCA) > 0 {
		secret.Data[corev1.ServiceAccountRootCAKey] = rootCA
	}
	if len(secret.Data[corev1.ServiceAccountNamespaceKey]) == 0 {
		secret.Data[corev1.ServiceAccountNamespaceKey] = []byte(secret.Namespace)
	}
	if len(secret.Data[corev1.ServiceAccountTokenKey]) == 0 {
		tok, err := tokens.IssueLegacy(sa, secret.Name)
		if err != nil {
			return err
		}
		secret.Data[corev1.ServiceAccountTokenKey] = []byte(tok)
	}
	secret.Annotations[corev1.ServiceAccountNameKey] = sa.Name
	secret.Annotations[corev1.ServiceAccountUIDKey] = string(sa.UID)
	return nil
}

func (c *TokensController) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	secret, err := c.secrets.Secrets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if secret.Type != corev1.SecretTypeServiceAccountToken || secret.Annotations[corev1.ServiceAccountNameKey] == "" {
		return nil
	}
	sa, err := c.serviceAccount(ctx, secret)
	if err != nil {
		return err
	}
	switch PlanTokenSecret(secret, sa, c.rootCA) {
	case SecretDelete:
		err := c.client.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &secret.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete token secret %s: %w", key, err)
		}
	case SecretFill:
		// Fill the live copy: the cache may be behind.
		live, err := c.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if live.UID != secret.UID || PlanTokenSecret(live, sa, c.rootCA) != SecretFill {
			return nil
		}
		if err := Fill(live, sa, c.rootCA, c.tokens); err != nil {
			return fmt.Errorf("token for secret %s: %w", key, err)
		}
		if _, err := c.client.CoreV1().Secrets(ns).Update(ctx, live, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("fill token secret %s: %w", key, err)
		}
	}
	return nil
}

// serviceAccount returns the account a token Secret names, or nil when
// none exists with that name (and, if annotated, UID). A cache miss is
// checked live: the account may be newer than the cache.
func (c *TokensController) serviceAccount(ctx context.Context, secret *corev1.Secret) (*corev1.ServiceAccount, error) {
	name, uid := secret.Annotations[corev1.ServiceAccountNameKey], secret.Annotations[corev1.ServiceAccountUIDKey]
	matches := func(sa *corev1.ServiceAccount) bool { return uid == "" || string(sa.UID) == uid }
	if sa, err := c.saLister.ServiceAccounts(secret.Namespace).Get(name); err == nil && matches(sa) {
		return sa, nil
	}
	sa, err := c.client.CoreV1().ServiceAccounts(secret.Namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case !matches(sa):
		return nil, nil
	}
	return sa, nil
}
