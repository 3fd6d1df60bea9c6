package autoscaling

import (
	"encoding/json"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func q(s string) *resource.Quantity { return ptr.To(resource.MustParse(s)) }

// A v2 object that uses everything v1 cannot say.
func richV2() *autoscalingv2.HorizontalPodAutoscaler {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"queue": "jobs"}}
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Annotations: map[string]string{"team": "a"}},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr.To(int32(2)), MaxReplicas: 10,
			Metrics: []autoscalingv2.MetricSpec{
				{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
					DescribedObject: autoscalingv2.CrossVersionObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Name: "main"},
					Metric:          autoscalingv2.MetricIdentifier{Name: "requests-per-second"},
					Target:          autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: q("2k")}}},
				{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "packets"},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: q("1k")}}},
				{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "queue_messages", Selector: sel},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: q("30")}}},
				{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
					Name: corev1.ResourceMemory, Container: "app",
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(int32(60))}}},
				cpuMetric(70),
			},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: scaleUpRules(),
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To(int32(300)), SelectPolicy: ptr.To(autoscalingv2.MinChangePolicySelect),
					Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}}, Tolerance: q("50m")},
			},
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{
			ObservedGeneration: ptr.To(int64(3)), CurrentReplicas: 3, DesiredReplicas: 4,
			CurrentMetrics: []autoscalingv2.MetricStatus{
				{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricStatus{
					Metric: autoscalingv2.MetricIdentifier{Name: "queue_messages", Selector: sel}, Current: autoscalingv2.MetricValueStatus{Value: q("90")}}},
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU,
					Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To(int32(55)), AverageValue: q("110m")}}},
			},
			Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionTrue,
				Reason: "ValidMetricFound", LastTransitionTime: metav1.NewTime(time.Unix(1700000000, 0)), ObservedGeneration: ptr.To(int64(3))}},
		},
	}
}

func TestV1RoundTripKeepsV2OnlyFields(t *testing.T) {
	in := richV2()
	v1, err := V2ToV1(in.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	if *v1.Spec.TargetCPUUtilizationPercentage != 70 || *v1.Status.CurrentCPUUtilizationPercentage != 55 || v1.Annotations["team"] != "a" {
		t.Fatalf("v1 form: %+v", v1)
	}
	// What a v1 client sees travels as JSON, annotations included.
	raw, _ := json.Marshal(v1)
	var wire autoscalingv1.HorizontalPodAutoscaler
	if err := json.Unmarshal(raw, &wire); err != nil {
		t.Fatal(err)
	}
	out := V1ToV2(&wire)
	if !apiequality.Semantic.DeepEqual(out.Spec, in.Spec) || !apiequality.Semantic.DeepEqual(out.Status, in.Status) ||
		!apiequality.Semantic.DeepEqual(out.Annotations, in.Annotations) {
		a, _ := json.Marshal(out)
		b, _ := json.Marshal(in)
		t.Fatalf("round trip changed the object:\n got %s\nwant %s", a, b)
	}
}

func TestBehaviorAnnotationUsesInternalFieldNames(t *testing.T) {
	h := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 1,
		Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: scaleUpRules()}}}
	v1, err := V2ToV1(h)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":4,"PeriodSeconds":15},{"Type":"Percent","Value":100,"PeriodSeconds":15}],"Tolerance":null},"ScaleDown":null}`
	if got := v1.Annotations[BehaviorSpecsAnnotation]; got != want {
		t.Errorf("behavior annotation:\n got %s\nwant %s", got, want)
	}
}

func TestV1WithoutTargetMeansEightyPercentCPU(t *testing.T) {
	v2 := V1ToV2(&autoscalingv1.HorizontalPodAutoscaler{Spec: autoscalingv1.HorizontalPodAutoscalerSpec{MaxReplicas: 3}})
	if len(v2.Spec.Metrics) != 1 || !isCPUUtilization(&v2.Spec.Metrics[0]) || *v2.Spec.Metrics[0].Resource.Target.AverageUtilization != DefaultCPUUtilization {
		t.Errorf("metrics %+v", v2.Spec.Metrics)
	}
	if v2.Annotations != nil {
		t.Errorf("annotations %v", v2.Annotations)
	}
}

func TestDefaultBehaviorFillsOnlyUnsetRules(t *testing.T) {
	h := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{SelectPolicy: ptr.To(autoscalingv2.DisabledPolicySelect)}}}}
	defaultV2(h)
	d := h.Spec.Behavior.ScaleDown
	if *d.SelectPolicy != autoscalingv2.DisabledPolicySelect || d.StabilizationWindowSeconds != nil || len(d.Policies) != 1 || d.Policies[0].Value != 100 {
		t.Errorf("scaleDown %+v", d)
	}
	if u := h.Spec.Behavior.ScaleUp; *u.StabilizationWindowSeconds != 0 || len(u.Policies) != 2 {
		t.Errorf("scaleUp %+v", u)
	}
	if *h.Spec.MinReplicas != 1 || len(h.Spec.Metrics) != 1 {
		t.Errorf("spec %+v", h.Spec)
	}
}
