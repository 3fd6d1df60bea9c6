package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/metadata"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/registry/apiextensions"
	"github.com/kedge-dev/kedge/internal/storage"
)

var crdGVR = apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")

// crdController serves the custom resources of CustomResourceDefinitions.
// It watches the CRDs in storage (the server's own, as every API server of
// a cluster does) and, level-triggered on every change:
//
//	names       accepts each CRD's names unless another CRD of its group
//	            holds them (status.acceptedNames, NamesAccepted)
//	serving     registers the resources of its served versions before it
//	            reports Established, so a client that sees Established can
//	            use them; replaces them when the CRD changes; unregisters
//	            them when it is gone
//	cleanup     deletes the custom resources of a deleted CRD, then
//	            removes its cleanup finalizer (the CRD goes away)
type crdController struct {
	s *Server

	mu       sync.Mutex
	served   map[string]*servedCRD // by CRD name
	cleaning map[types.UID]bool
	kick     chan struct{}

	// schemas are the published schemas of the served kinds (OpenAPI).
	schemas atomic.Pointer[map[schema.GroupVersionKind]publishedSchema]

	start sync.Once
}

// servedCRD is what is registered for one CRD.
type servedCRD struct {
	key       string // what the resources were built from
	resources []*registry.Resource
}

type publishedSchema struct{ v3, v2 *spec.Schema }

func newCRDController(s *Server) *crdController {
	c := &crdController{s: s, served: map[string]*servedCRD{}, cleaning: map[types.UID]bool{}, kick: make(chan struct{}, 1)}
	c.schemas.Store(&map[schema.GroupVersionKind]publishedSchema{})
	return c
}

// Start serves the custom resources of the stored CRDs before it returns
// (best effort: a failure is retried in the background) and keeps serving
// them until ctx ends. Only the first call starts the controller.
func (c *crdController) Start(ctx context.Context) {
	c.start.Do(func() {
		rev, err := c.sync(ctx)
		if err != nil && ctx.Err() == nil {
			slog.Warn("custom resource definitions: first sync", "err", err)
		}
		go c.run(ctx, rev)
	})
}

func (c *crdController) crdResource() *registry.Resource {
	res, _ := c.s.reg.Lookup(crdGVR)
	return res
}

// run re-syncs on every change of a CRD, every 30 seconds, and when a
// cleanup asks for it; a failed watch lists again.
func (c *crdController) run(ctx context.Context, rev int64) {
	resync := time.NewTicker(30 * time.Second)
	defer resync.Stop()
	for ctx.Err() == nil {
		if rev == 0 {
			var err error
			if rev, err = c.sync(ctx); err != nil {
				if ctx.Err() == nil {
					slog.Warn("custom resource definitions: sync", "err", err)
				}
				rev = 0
				sleep(ctx, time.Second)
				continue
			}
		}
		// A gRPC stream of its own, as the API's etcd watches (watch.go).
		wctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(ctx, "kedge-watch", strconv.FormatUint(rand.Uint64(), 36)))
		evc, _ := c.s.store.Watch(wctx, prefix(c.crdResource(), ""), rev)
		c.watch(ctx, evc, resync.C)
		cancel()
		rev = 0
	}
}

// watch syncs on events until the watch ends.
func (c *crdController) watch(ctx context.Context, evc <-chan []storage.Event, resync <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-evc:
			if !ok {
				return
			}
		case <-resync:
		case <-c.kick:
		}
		// Coalesce what else is waiting.
		for drained := false; !drained; {
			select {
			case _, ok := <-evc:
				if !ok {
					return
				}
			default:
				drained = true
			}
		}
		if _, err := c.sync(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("custom resource definitions: sync", "err", err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// list reads every CRD and the revision they were read at.
func (c *crdController) list(ctx context.Context) ([]*apiextensionsv1.CustomResourceDefinition, int64, error) {
	res := c.crdResource()
	lr, err := c.s.store.List(ctx, prefix(res, ""), 0, 0, "")
	if err != nil {
		return nil, 0, err
	}
	out := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(lr.Items))
	for _, kv := range lr.Items {
		obj, err := c.s.codec.fromStore(res, kv)
		if err != nil {
			slog.Warn("custom resource definitions: undecodable object", "key", kv.Key, "err", err)
			continue
		}
		out = append(out, obj.(*apiextensionsv1.CustomResourceDefinition))
	}
	return out, lr.Rev, nil
}

// sync brings the status and the served resources of every CRD up to date.
func (c *crdController) sync(ctx context.Context) (int64, error) {
	crds, rev, err := c.list(ctx)
	if err != nil {
		return 0, err
	}
	apiextensions.ByAge(crds)
	byGroup := map[string][]*apiextensionsv1.CustomResourceDefinition{}
	for _, crd := range crds {
		byGroup[crd.Spec.Group] = append(byGroup[crd.Spec.Group], crd)
	}
	present := map[string]bool{}
	var errs []error
	for _, crd := range crds {
		present[crd.Name] = true
		terminating := crd.DeletionTimestamp != nil
		if terminating {
			c.startCleanup(ctx, crd)
		} else {
			status, changed := apiextensions.NameStatus(crd, byGroup[crd.Spec.Group])
			if changed {
				want := crd.DeepCopy()
				want.Status = status
				// Serve first: Established promises the resources work.
				c.serve(want, false)
				if err := c.writeStatus(ctx, crd, status); err != nil {
					errs = append(errs, err)
				}
				crd.Status = status // later CRDs of the group see these names taken
				continue
			}
		}
		c.serve(crd, terminating || apiextensions.IsConditionTrue(crd, apiextensionsv1.Terminating))
	}
	c.mu.Lock()
	var gone []string
	for name := range c.served {
		if !present[name] {
			gone = append(gone, name)
		}
	}
	c.mu.Unlock()
	for _, name := range gone {
		c.unserve(name)
	}
	return rev, errors.Join(errs...)
}

// serve registers (or replaces, or removes) the resources of a CRD as its
// stored state says.
func (c *crdController) serve(crd *apiextensionsv1.CustomResourceDefinition, terminating bool) {
	if !apiextensions.IsConditionTrue(crd, apiextensionsv1.NamesAccepted) && !apiextensions.IsConditionTrue(crd, apiextensionsv1.Established) {
		c.unserve(crd.Name)
		return
	}
	keyJSON, _ := json.Marshal(struct {
		Spec        apiextensionsv1.CustomResourceDefinitionSpec
		Names       apiextensionsv1.CustomResourceDefinitionNames
		Terminating bool
	}{crd.Spec, crd.Status.AcceptedNames, terminating})
	key := string(keyJSON)
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.served[crd.Name]
	if old != nil && old.key == key {
		return
	}
	resources, err := apiextensions.CustomResources(crd, apiextensions.ServeOptions{Terminating: terminating})
	if err != nil {
		slog.Warn("custom resource definitions: cannot serve", "crd", crd.Name, "err", err)
		return
	}
	schemas := c.copySchemas()
	var remove []schema.GroupVersionResource
	if old != nil {
		for _, res := range old.resources {
			remove = append(remove, res.GroupVersionResource())
			delete(schemas, res.GVK)
		}
	}
	for _, res := range resources {
		schemas[res.GVK] = publishedSchema{
			v3: apiextensions.PublishedSchema(crd, res.GVK.Version, false),
			v2: apiextensions.PublishedSchema(crd, res.GVK.Version, true),
		}
	}
	c.schemas.Store(&schemas)
	c.s.reg.Replace(remove, resources...)
	if old != nil {
		c.forgetCaches(old.resources)
	}
	c.served[crd.Name] = &servedCRD{key: key, resources: resources}
	slog.Debug("custom resources served", "crd", crd.Name, "versions", len(resources), "terminating", terminating)
}

// unserve unregisters the resources of a CRD.
func (c *crdController) unserve(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.served[name]
	if old == nil {
		return
	}
	delete(c.served, name)
	var remove []schema.GroupVersionResource
	schemas := c.copySchemas()
	for _, res := range old.resources {
		remove = append(remove, res.GroupVersionResource())
		delete(schemas, res.GVK)
	}
	c.s.reg.Remove(remove...)
	c.schemas.Store(&schemas)
	c.forgetCaches(old.resources)
}

func (c *crdController) copySchemas() map[schema.GroupVersionKind]publishedSchema {
	out := map[schema.GroupVersionKind]publishedSchema{}
	for k, v := range *c.schemas.Load() {
		out[k] = v
	}
	return out
}

// forgetCaches drops the watch caches of replaced resources: their objects
// were decoded (pruned, defaulted) by the old schema, and their watches end.
func (c *crdController) forgetCaches(resources []*registry.Resource) {
	if c.s.cache == nil {
		return
	}
	for _, res := range resources {
		c.s.cache.Forget(c.s.cacheResource(res).Name)
	}
}

// schema returns the published schema of a served custom kind.
func (c *crdController) schema(gvk schema.GroupVersionKind, v2 bool) *spec.Schema {
	ps, ok := (*c.schemas.Load())[gvk]
	if !ok {
		return nil
	}
	if v2 {
		return ps.v2
	}
	return ps.v3
}

// writeStatus stores a CRD's new status over the version it was computed
// from; a conflict is left to the next sync.
func (c *crdController) writeStatus(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition, status apiextensionsv1.CustomResourceDefinitionStatus) error {
	return c.modify(ctx, crd.Name, crd.UID, func(cur *apiextensionsv1.CustomResourceDefinition) bool {
		if cur.ResourceVersion != crd.ResourceVersion {
			return false // changed meanwhile: the next sync sees it
		}
		cur.Status = status
		return true
	})
}

// modify reads a CRD, lets change modify it and writes it back (a
// server-side write of the controller, as upstream's controllers write
// status). A CRD being deleted whose last finalizer change removes goes
// away. Conflicts are retried.
func (c *crdController) modify(ctx context.Context, name string, uid types.UID, change func(*apiextensionsv1.CustomResourceDefinition) bool) error {
	res := c.crdResource()
	for attempt := 0; attempt < 5; attempt++ {
		obj, kv, err := c.s.get(ctx, res, "", name)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		crd := obj.(*apiextensionsv1.CustomResourceDefinition)
		if crd.UID != uid || !change(crd) {
			return nil
		}
		if crd.DeletionTimestamp != nil && len(crd.Finalizers) == 0 {
			_, err = c.s.removeObject(ctx, res, crd, kv.Rev)
		} else {
			err = c.s.writeBack(ctx, res, crd, kv)
		}
		if apierrors.IsConflict(err) || errors.Is(err, storage.ErrConflict) {
			continue
		}
		return err
	}
	return fmt.Errorf("customresourcedefinition %s: too many conflicts", name)
}

// startCleanup starts the cleanup of a deleted CRD once.
func (c *crdController) startCleanup(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) {
	if !hasString(crd.Finalizers, apiextensions.CleanupFinalizer) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cleaning[crd.UID] {
		return
	}
	c.cleaning[crd.UID] = true
	go func() {
		defer func() {
			c.mu.Lock()
			delete(c.cleaning, crd.UID)
			c.mu.Unlock()
			select {
			case c.kick <- struct{}{}:
			default:
			}
		}()
		for ctx.Err() == nil {
			err := c.cleanup(ctx, crd)
			if err == nil {
				return
			}
			if ctx.Err() == nil {
				slog.Warn("custom resource definitions: cleanup", "crd", crd.Name, "err", err)
			}
			sleep(ctx, 5*time.Second)
		}
	}()
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cleanup deletes the custom resources of a deleted CRD as upstream's
// finalizer does (through the ordinary delete, so their own finalizers
// hold them), waits until they are gone and releases the CRD.
func (c *crdController) cleanup(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) error {
	setTerminating := func(status apiextensionsv1.ConditionStatus, reason, msg string, release bool) error {
		return c.modify(ctx, crd.Name, crd.UID, func(cur *apiextensionsv1.CustomResourceDefinition) bool {
			apiextensions.SetCondition(cur, apiextensionsv1.CustomResourceDefinitionCondition{
				Type: apiextensionsv1.Terminating, Status: status, Reason: reason, Message: msg})
			if release {
				cur.Finalizers = withoutFinalizer(cur.Finalizers, apiextensions.CleanupFinalizer)
			}
			return true
		})
	}
	if err := setTerminating(apiextensionsv1.ConditionTrue, "InstanceDeletionInProgress", "CustomResource deletion is in progress", false); err != nil {
		return err
	}
	if !apiextensions.IsConditionTrue(crd, apiextensionsv1.Established) {
		return setTerminating(apiextensionsv1.ConditionFalse, "NeverEstablished", "resource was never established", true)
	}
	if err := c.deleteInstances(ctx, crd); err != nil {
		var failed *cleanupError
		if errors.As(err, &failed) {
			_ = setTerminating(apiextensionsv1.ConditionTrue, failed.reason, failed.msg, false)
		}
		return err
	}
	return setTerminating(apiextensionsv1.ConditionFalse, "InstanceDeletionCompleted", "removed all instances", true)
}

type cleanupError struct{ reason, msg string }

func (e *cleanupError) Error() string { return e.msg }

func (c *crdController) deleteInstances(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) error {
	resources, err := apiextensions.CustomResources(crd, apiextensions.ServeOptions{Terminating: true, StorageOnly: true})
	if err != nil || len(resources) == 0 {
		return &cleanupError{"InstanceDeletionFailed", fmt.Sprintf("could not list instances: unable to find a custom resource client for %s.%s: %v", crd.Status.AcceptedNames.Plural, crd.Spec.Group, err)}
	}
	res := resources[0]
	lr, err := c.s.listEtcd(ctx, res, "", url.Values{})
	if err != nil {
		return &cleanupError{"InstanceDeletionFailed", fmt.Sprintf("could not list instances: %v", err)}
	}
	var errs []error
	for _, obj := range lr.items {
		m, _ := meta.Accessor(obj)
		if m.GetDeletionTimestamp() != nil {
			continue
		}
		if _, _, err := c.s.delete(ctx, res, m.GetNamespace(), m.GetName(), deleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return &cleanupError{"InstanceDeletionFailed", fmt.Sprintf("could not issue all deletes: %v", err)}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		lr, err := c.s.listEtcd(ctx, res, "", url.Values{})
		if err == nil && len(lr.items) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("%d remaining", len(lr.items))
			}
			return &cleanupError{"InstanceDeletionCheck", fmt.Sprintf("could not confirm zero CustomResources remaining: %v", err)}
		}
		sleep(ctx, 200*time.Millisecond)
	}
}
