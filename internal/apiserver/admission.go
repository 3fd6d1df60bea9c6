package apiserver

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/serviceaccount"
)

// Names of upstream's ServiceAccount admission.
const (
	// defaultServiceAccount is the service account of pods that name none.
	defaultServiceAccount = "default"
	// tokenVolumePrefix starts the name of the projected token volume; five
	// random characters follow.
	tokenVolumePrefix = "kube-api-access-"
	// tokenMountPath is where every container finds the token, the CA and
	// its namespace.
	tokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// rootCAConfigMap is the ConfigMap the root CA publisher keeps in every
	// namespace; its key ca.crt lands in the token volume.
	rootCAConfigMap = "kube-root-ca.crt"

	mirrorPodAnnotation = "kubernetes.io/config.mirror"
)

// admitCreate runs the admission plugins kedge has on a new object, after
// the namespace check and before defaulting and validation.
func (s *Server) admitCreate(ctx context.Context, res *registry.Resource, obj runtime.Object) error {
	if pod, ok := obj.(*corev1.Pod); ok && res.GVK.Group == "" && s.cfg.ServiceAccountAdmission {
		return s.admitServiceAccount(ctx, pod)
	}
	return nil
}

// admitServiceAccount is upstream's ServiceAccount admission plugin: a
// pod runs as an existing service account ("default" unless it names
// one), takes the account's image pull secrets when it has none, and,
// unless automounting is turned off on the pod or the account, gets the
// projected token volume mounted in every container.
func (s *Server) admitServiceAccount(ctx context.Context, pod *corev1.Pod) error {
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		return nil // static pods cannot use the API's objects
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = defaultServiceAccount
	}
	pod.Spec.DeprecatedServiceAccount = pod.Spec.ServiceAccountName
	sa, err := storeGetter{s}.ServiceAccount(ctx, pod.Namespace, pod.Spec.ServiceAccountName)
	if err != nil {
		name := pod.Name
		if name == "" {
			name = pod.GenerateName
		}
		if apierrors.IsNotFound(err) {
			err = fmt.Errorf("serviceaccount %q not found", pod.Spec.ServiceAccountName)
		}
		return apierrors.NewForbidden(podsGVR.GroupResource(), name,
			fmt.Errorf("error looking up service account %s/%s: %v", pod.Namespace, pod.Spec.ServiceAccountName, err))
	}
	if len(pod.Spec.ImagePullSecrets) == 0 && len(sa.ImagePullSecrets) > 0 {
		pod.Spec.ImagePullSecrets = append([]corev1.LocalObjectReference(nil), sa.ImagePullSecrets...)
	}
	if automount(sa, pod) {
		mountServiceAccountToken(pod, func() string { return tokenVolumePrefix + utilrand.String(5) })
	}
	return nil
}

// automount says whether pod gets the token: the pod's choice wins over
// the service account's; the default is yes.
func automount(sa *corev1.ServiceAccount, pod *corev1.Pod) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// mountServiceAccountToken mounts the token volume read-only at
// tokenMountPath in every init and app container that has nothing mounted
// there yet, and adds the volume (named by newName, unless the pod already
// has one) if any container mounts it.
func mountServiceAccountToken(pod *corev1.Pod, newName func() string) {
	name := ""
	taken := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		taken[v.Name] = true
		if name == "" && strings.HasPrefix(v.Name, tokenVolumePrefix) {
			name = v.Name
		}
	}
	hasVolume := name != ""
	for !hasVolume && (name == "" || taken[name]) {
		name = newName()
	}
	mount := corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: tokenMountPath}
	needed := false
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if mountsAt(&cs[i], tokenMountPath) {
				continue
			}
			cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
			needed = true
		}
	}
	if needed && !hasVolume {
		pod.Spec.Volumes = append(pod.Spec.Volumes, tokenVolume(name))
	}
}

func mountsAt(c *corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return true
		}
	}
	return false
}

// tokenVolume is upstream's projected volume: a token for the API
// server's audience (3607 seconds: extended and warn-only, see
// serviceaccount.WarnOnlyExpirationSeconds), the cluster CA and the
// pod's namespace.
func tokenVolume(name string) corev1.Volume {
	return corev1.Volume{
		Name: name,
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
					ExpirationSeconds: ptr.To(int64(serviceaccount.WarnOnlyExpirationSeconds)),
					Path:              "token",
				}},
				{ConfigMap: &corev1.ConfigMapProjection{
					LocalObjectReference: corev1.LocalObjectReference{Name: rootCAConfigMap},
					Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
				}},
				{DownwardAPI: &corev1.DownwardAPIProjection{
					Items: []corev1.DownwardAPIVolumeFile{{
						Path:     "namespace",
						FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
					}},
				}},
			},
			DefaultMode: ptr.To(int32(0o644)),
		}},
	}
}
