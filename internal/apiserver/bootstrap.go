package apiserver

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry/scheduling"
)

// maintain creates the objects every cluster has (the system namespaces,
// the system priority classes and the "kubernetes" Service with its
// endpoints) and keeps them in place.
func (s *Server) maintain(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		if err := s.bootstrap(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("bootstrap objects", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Bootstrap creates the built-in objects once (also used before serving)
// and starts serving the custom resources of the stored
// CustomResourceDefinitions until ctx ends.
func (s *Server) Bootstrap(ctx context.Context) error {
	s.crds.Start(ctx)
	return s.bootstrap(ctx)
}

func (s *Server) bootstrap(ctx context.Context) error {
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		if err := s.ensure(ctx, schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, nil); err != nil {
			return err
		}
	}
	for _, pc := range scheduling.SystemPriorityClasses() {
		if err := s.ensure(ctx, schema.GroupVersionResource{Group: "scheduling.k8s.io", Version: "v1", Resource: "priorityclasses"}, "", pc, nil); err != nil {
			return err
		}
	}
	prefix, err := netip.ParsePrefix(s.cfg.ServiceCIDR)
	if err != nil {
		return err
	}
	clusterIP := prefix.Masked().Addr().Next().String()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: clusterIP,
			Ports: []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443,
				TargetPort: intstr.FromInt32(int32(s.cfg.Port))}},
		},
	}
	if err := s.ensure(ctx, schema.GroupVersionResource{Version: "v1", Resource: "services"}, "default", svc, nil); err != nil {
		return err
	}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: s.cfg.AdvertiseAddress}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: int32(s.cfg.Port), Protocol: corev1.ProtocolTCP}},
		}},
	}
	sameSubsets := func(cur, want runtime.Object) bool {
		return apiequality.Semantic.DeepEqual(cur.(*corev1.Endpoints).Subsets, want.(*corev1.Endpoints).Subsets)
	}
	if err := s.ensure(ctx, schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}, "default", ep, sameSubsets); err != nil {
		return err
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{s.cfg.AdvertiseAddress},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("https"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(s.cfg.Port))}},
	}
	sameSlice := func(cur, want runtime.Object) bool {
		c, w := cur.(*discoveryv1.EndpointSlice), want.(*discoveryv1.EndpointSlice)
		return apiequality.Semantic.DeepEqual(c.Endpoints, w.Endpoints) && apiequality.Semantic.DeepEqual(c.Ports, w.Ports)
	}
	return s.ensure(ctx, schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}, "default", slice, sameSlice)
}

// ensure creates obj if it is missing; with same, it also replaces a stored
// object that differs from obj.
func (s *Server) ensure(ctx context.Context, gvr schema.GroupVersionResource, ns string, obj runtime.Object, same func(cur, want runtime.Object) bool) error {
	res, ok := s.reg.Lookup(gvr)
	if !ok {
		return nil
	}
	name := mustAccessor(obj).GetName()
	cur, _, err := s.get(ctx, res, ns, name)
	if apierrors.IsNotFound(err) {
		_, err = s.create(ctx, res, ns, obj, false)
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	if err != nil || same == nil || same(cur, obj) {
		return err
	}
	m := mustAccessor(obj)
	m.SetResourceVersion(mustAccessor(cur).GetResourceVersion())
	_, _, err = s.update(ctx, res, ns, name, obj, updateMain, false)
	return err
}
