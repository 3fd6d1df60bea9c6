package rootcacert

import (
	"context"
	"errors"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

const (
	// Name is the controller's name in logs.
	Name = "root-ca-cert-publisher"
	// ConfigMapName is the ConfigMap every namespace gets.
	ConfigMapName = "kube-root-ca.crt"
	// Key is the ConfigMap's key holding the CA bundle.
	Key = "ca.crt"
	// DescriptionAnnotation and Description tell users what the ConfigMap is for.
	DescriptionAnnotation = "kubernetes.io/description"
	Description           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	// RootCA is the PEM bundle to publish (required).
	RootCA  []byte
	Workers int
}

// Controller keeps kube-root-ca.crt in every namespace.
type Controller struct {
	client   kubernetes.Interface
	rootCA   []byte
	workers  int
	nsLister corelisters.NamespaceLister
	cmLister corelisters.ConfigMapLister
	synced   []cache.InformerSynced
	queue    ctrlutil.Queue
}

// New wires the controller to the shared informers; call before the
// factory is started.
func New(o Options) (*Controller, error) {
	if len(o.RootCA) == 0 {
		return nil, errors.New("no root CA to publish")
	}
	nsInf := o.Informers.Core().V1().Namespaces()
	cmInf := o.Informers.Core().V1().ConfigMaps()
	c := &Controller{
		client:   o.Client,
		rootCA:   o.RootCA,
		workers:  o.Workers,
		nsLister: nsInf.Lister(),
		cmLister: cmInf.Lister(),
		synced:   []cache.InformerSynced{nsInf.Informer().HasSynced, cmInf.Informer().HasSynced},
		queue:    ctrlutil.NewQueue(Name),
	}
	enqueueNS := func(obj any) {
		if ns, ok := ctrlutil.FromTombstone[*corev1.Namespace](obj); ok {
			c.queue.Add(ns.Name)
		}
	}
	if _, err := nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueNS,
		UpdateFunc: func(_, cur any) { enqueueNS(cur) },
	}); err != nil {
		return nil, fmt.Errorf("namespace informer: %w", err)
	}
	enqueueCM := func(obj any) {
		if cm, ok := ctrlutil.FromTombstone[*corev1.ConfigMap](obj); ok && cm.Name == ConfigMapName {
			c.queue.Add(cm.Namespace)
		}
	}
	if _, err := cmInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, cur any) { enqueueCM(cur) },
		DeleteFunc: enqueueCM,
	}); err != nil {
		return nil, fmt.Errorf("configmap informer: %w", err)
	}
	return c, nil
}

// Run processes namespaces until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	return ctrlutil.RunWorkers(ctx, Name, c.queue, c.workers, c.sync, c.synced...)
}

// Plan says what the kube-root-ca.crt ConfigMap of namespace needs, given
// the existing one (nil: none): nothing (nil), a ConfigMap to create, or
// the corrected copy of the existing one to update.
func Plan(namespace string, existing *corev1.ConfigMap, rootCA []byte) (want *corev1.ConfigMap, create bool) {
	data := map[string]string{Key: string(rootCA)}
	if existing == nil {
		return &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: namespace,
				Annotations: map[string]string{DescriptionAnnotation: Description}},
			Data: data,
		}, true
	}
	if maps.Equal(existing.Data, data) && len(existing.BinaryData) == 0 && existing.Annotations[DescriptionAnnotation] != "" {
		return nil, false
	}
	cm := existing.DeepCopy()
	cm.Data, cm.BinaryData = data, nil
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[DescriptionAnnotation] = Description
	return cm, false
}

func (c *Controller) sync(ctx context.Context, namespace string) error {
	ns, err := c.nsLister.Get(namespace)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return nil
	}
	existing, err := c.cmLister.ConfigMaps(namespace).Get(ConfigMapName)
	switch {
	case apierrors.IsNotFound(err):
		existing = nil
	case err != nil:
		return err
	}
	want, create := Plan(namespace, existing, c.rootCA)
	switch {
	case want == nil:
		return nil
	case create:
		_, err = c.client.CoreV1().ConfigMaps(namespace).Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsNotFound(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace went away
		}
	default:
		_, err = c.client.CoreV1().ConfigMaps(namespace).Update(ctx, want, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("publish %s in %s: %w", ConfigMapName, namespace, err)
	}
	return nil
}
