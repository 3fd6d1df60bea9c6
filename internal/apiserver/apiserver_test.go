package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/apiserver/apitest"
	"github.com/kedge-dev/kedge/internal/etcd"
)

// testServer is a real API server on a real embedded etcd, served over TLS
// with client-certificate authentication.
type testServer struct {
	client kubernetes.Interface
	config *rest.Config
	member *etcd.Member
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	s := apitest.New(t)
	return &testServer{client: s.Client, config: s.Config, member: s.Member}
}

func pod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "localhost/echo:1"}}},
	}
}

func TestAnonymousRequestsAreUnauthorized(t *testing.T) {
	s := startServer(t)
	anon := rest.CopyConfig(s.config)
	anon.TLSClientConfig.CertData, anon.TLSClientConfig.KeyData = nil, nil
	c := kubernetes.NewForConfigOrDie(anon)
	_, err := c.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if !apierrors.IsUnauthorized(err) {
		t.Fatalf("want 401 Unauthorized, got %v", err)
	}
	if _, err := c.Discovery().ServerVersion(); err != nil {
		t.Fatalf("/version should be public: %v", err)
	}
}

func TestCreateDefaultsAndValidation(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	got, err := s.client.CoreV1().Pods("default").Create(ctx, pod("p1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.UID == "" || got.ResourceVersion == "" || got.CreationTimestamp.IsZero() || got.Generation != 1 {
		t.Errorf("metadata not set: %+v", got.ObjectMeta)
	}
	if got.Spec.RestartPolicy != corev1.RestartPolicyAlways || got.Spec.DNSPolicy != corev1.DNSClusterFirst ||
		got.Spec.SchedulerName != "default-scheduler" || got.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent ||
		got.Spec.ServiceAccountName != "default" || len(got.Spec.Tolerations) != 2 {
		t.Errorf("defaults not applied: %+v", got.Spec)
	}
	if got.Status.Phase != corev1.PodPending || got.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("status: %+v", got.Status)
	}
	_, err = s.client.CoreV1().Pods("default").Create(ctx, pod("p1"), metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		t.Errorf("want AlreadyExists, got %v", err)
	}
	bad := pod("Bad_Name")
	bad.Spec.Containers[0].Image = ""
	_, err = s.client.CoreV1().Pods("default").Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want Invalid, got %v", err)
	}
	causes := err.(*apierrors.StatusError).ErrStatus.Details.Causes
	fields := map[string]bool{}
	for _, c := range causes {
		fields[c.Field] = true
	}
	if !fields["metadata.name"] || !fields["spec.containers[0].image"] {
		t.Errorf("causes should name metadata.name and the image: %+v", causes)
	}
	_, err = s.client.CoreV1().Pods("nope").Create(ctx, pod("p2"), metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("create in a missing namespace: want NotFound, got %v", err)
	}
	gen := pod("")
	gen.GenerateName = "web-"
	g, err := s.client.CoreV1().Pods("default").Create(ctx, gen, metav1.CreateOptions{})
	if err != nil || len(g.Name) != len("web-")+5 {
		t.Errorf("generateName: %v %q", err, g.Name)
	}
}

func TestOptimisticConcurrency(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	p, err := s.client.CoreV1().Pods("default").Create(ctx, pod("p"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels["v"] = "1"
	if _, err := s.client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Labels["v"] = "2" // p still carries the old resourceVersion
	_, err = s.client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("want Conflict, got %v", err)
	}
}

func TestWatchFromResourceVersion(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	p, err := s.client.CoreV1().Pods("default").Create(ctx, pod("w"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: p.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	p.Labels["x"] = "y"
	if _, err := s.client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.client.CoreV1().Pods("default").Delete(ctx, "w", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var types []watch.EventType
	timeout := time.After(10 * time.Second)
	for len(types) < 2 {
		select {
		case ev := <-w.ResultChan():
			types = append(types, ev.Type)
		case <-timeout:
			t.Fatalf("events so far: %v", types)
		}
	}
	if types[0] != watch.Modified || types[1] != watch.Deleted {
		t.Fatalf("want MODIFIED, DELETED; got %v", types)
	}
}

func TestWatchTooOldResourceVersionIsGone(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	first, _ := s.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	s.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{})
	last, _ := s.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{})
	var rev int64
	fmt.Sscan(last.ResourceVersion, &rev)
	if _, err := s.member.Client().Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	w, err := s.client.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		st, ok := ev.Object.(*metav1.Status)
		if ev.Type != watch.Error || !ok || st.Code != 410 {
			t.Fatalf("want an ERROR event with 410, got %s %+v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
}

func TestFinalizersHoldDeletion(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "f", Finalizers: []string{"example.com/hold"}}}
	if _, err := s.client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.client.CoreV1().ConfigMaps("default").Delete(ctx, "f", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := s.client.CoreV1().ConfigMaps("default").Get(ctx, "f", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil {
		t.Fatalf("want the object marked for deletion, got %v %+v", err, got)
	}
	got.Finalizers = nil
	if _, err := s.client.CoreV1().ConfigMaps("default").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.CoreV1().ConfigMaps("default").Get(ctx, "f", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("want the object gone once its last finalizer is removed, got %v", err)
	}
}

func TestSelectorsAndPaging(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	for i := 0; i < 7; i++ {
		p := pod(fmt.Sprintf("p%d", i))
		if i%2 == 0 {
			p.Labels["tier"] = "even"
			p.Spec.NodeName = "n1"
		}
		if _, err := s.client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "tier in (even)"})
	if err != nil || len(l.Items) != 4 {
		t.Fatalf("label selector: %v %d", err, len(l.Items))
	}
	l, err = s.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=n1"})
	if err != nil || len(l.Items) != 4 {
		t.Fatalf("field selector: %v %d", err, len(l.Items))
	}
	_, err = s.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nope=x"})
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("unsupported field selector: want BadRequest, got %v", err)
	}
	_, err = s.client.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{FieldSelector: "data.x=y"})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"`) {
		t.Fatalf("unknown field selector on a kind without field selectors: %v", err)
	}
	var names []string
	opts := metav1.ListOptions{Limit: 3}
	for {
		l, err := s.client.CoreV1().Pods("default").List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range l.Items {
			names = append(names, p.Name)
		}
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	if len(names) != 7 {
		t.Fatalf("paging returned %v", names)
	}
}

func TestServiceIPAllocation(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	svc := func(name, ip string, typ corev1.ServiceType) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{
			Type: typ, ClusterIP: ip, Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	}
	seen := map[string]bool{"10.43.0.1": true}
	cidr := netip.MustParsePrefix("10.43.0.0/16")
	for i := 0; i < 20; i++ {
		got, err := s.client.CoreV1().Services("default").Create(ctx, svc(fmt.Sprintf("s%d", i), "", corev1.ServiceTypeClusterIP), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ip := got.Spec.ClusterIP
		if seen[ip] || !cidr.Contains(netip.MustParseAddr(ip)) {
			t.Fatalf("bad or duplicate ClusterIP %s", ip)
		}
		seen[ip] = true
		if got.Spec.Ports[0].TargetPort.IntValue() != 80 || got.Spec.Ports[0].Protocol != corev1.ProtocolTCP {
			t.Errorf("port defaults: %+v", got.Spec.Ports[0])
		}
	}
	_, err := s.client.CoreV1().Services("default").Create(ctx, svc("dup", "10.43.0.1", corev1.ServiceTypeClusterIP), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("an allocated IP: want Invalid, got %v", err)
	}
	np, err := s.client.CoreV1().Services("default").Create(ctx, svc("np", "", corev1.ServiceTypeNodePort), metav1.CreateOptions{})
	if err != nil || np.Spec.Ports[0].NodePort < 30000 || np.Spec.Ports[0].NodePort > 32767 {
		t.Fatalf("NodePort: %v %+v", err, np)
	}
	// Deleting frees the address for reuse.
	if err := s.client.CoreV1().Services("default").Delete(ctx, "np", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.CoreV1().Services("default").Create(ctx, svc("again", np.Spec.ClusterIP, corev1.ServiceTypeClusterIP), metav1.CreateOptions{}); err != nil {
		t.Fatalf("reuse of a freed IP: %v", err)
	}
}

func TestScaleAndStatusSubresources(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: pod("").Spec},
		},
	}
	got, err := s.client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Spec.Replicas != 1 || got.Spec.Strategy.RollingUpdate.MaxSurge.StrVal != "25%" || *got.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("deployment defaults: %+v", got.Spec)
	}
	sc, err := s.client.AppsV1().Deployments("default").GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil || sc.Spec.Replicas != 1 {
		t.Fatalf("get scale: %v %+v", err, sc)
	}
	sc.Spec.Replicas = 4
	if _, err := s.client.AppsV1().Deployments("default").UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if *got.Spec.Replicas != 4 || got.Generation != 2 {
		t.Fatalf("after scale: replicas %d generation %d", *got.Spec.Replicas, got.Generation)
	}
	// A status write changes only status; a main write keeps status.
	got.Status.Replicas = 4
	got.Spec.Replicas = ptr.To(int32(9))
	st, err := s.client.AppsV1().Deployments("default").UpdateStatus(ctx, got, metav1.UpdateOptions{})
	if err != nil || st.Status.Replicas != 4 || *st.Spec.Replicas != 4 || st.Generation != 2 {
		t.Fatalf("status update: %v %+v", err, st)
	}
	st.Status.Replicas = 0
	main, err := s.client.AppsV1().Deployments("default").Update(ctx, st, metav1.UpdateOptions{})
	if err != nil || main.Status.Replicas != 4 {
		t.Fatalf("main update must keep status: %v %+v", err, main.Status)
	}
}

func TestAggregatedDiscovery(t *testing.T) {
	s := startServer(t)
	body, err := s.client.CoreV1().RESTClient().Get().AbsPath("/apis").
		SetHeader("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json").
		DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var list apidiscoveryv2.APIGroupDiscoveryList
	if err := json.Unmarshal(body, &list); err != nil || list.Kind != "APIGroupDiscoveryList" {
		t.Fatalf("not an aggregated discovery document (%v): %.200s", err, body)
	}
	for _, g := range list.Items {
		if g.Name != "apps" {
			continue
		}
		for _, r := range g.Versions[0].Resources {
			if r.Resource == "deployments" {
				if r.Scope != apidiscoveryv2.ScopeNamespace || len(r.Subresources) != 2 || r.ResponseKind.Kind != "Deployment" {
					t.Fatalf("deployments: %+v", r)
				}
				return
			}
		}
	}
	t.Fatal("apps/v1 deployments missing from aggregated discovery")
}

func TestReviewsAnswerForTheRequestingUser(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	r, err := s.client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := r.Status.UserInfo; u.Username != "admin" || len(u.Groups) != 2 || u.Groups[0] != "system:masters" || u.Groups[1] != "system:authenticated" {
		t.Fatalf("whoami: %+v", u)
	}
	a, err := s.client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "create", Resource: "pods"}},
	}, metav1.CreateOptions{})
	if err != nil || !a.Status.Allowed {
		t.Fatalf("can-i: %v %+v", err, a)
	}
	_, err = s.client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("a review without attributes: want Invalid, got %v", err)
	}
	// Reviews are answers, not objects: nothing is stored.
	if _, err := s.client.AuthenticationV1().RESTClient().Get().AbsPath("/apis/authentication.k8s.io/v1/selfsubjectreviews").DoRaw(ctx); !apierrors.IsMethodNotSupported(err) {
		t.Fatalf("list of reviews: want MethodNotSupported, got %v", err)
	}
}
