package kubelet

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestVerifyRunAsNonRoot(t *testing.T) {
	root, user := ptr(int64(0)), ptr(int64(1000))
	tests := []struct {
		name       string
		pod, ctr   *v1.SecurityContext // pod level given as a container context for brevity
		imageUID   *int64
		imageUser  string
		wantErrMsg string
	}{
		{name: "not asked", imageUID: root},
		{name: "image root", ctr: &v1.SecurityContext{RunAsNonRoot: ptr(true)}, imageUID: root,
			wantErrMsg: `container has runAsNonRoot and image will run as root (pod: "p_ns(uid-1)", container: c)`},
		{name: "pod level, image root", pod: &v1.SecurityContext{RunAsNonRoot: ptr(true)}, imageUID: root,
			wantErrMsg: `container has runAsNonRoot and image will run as root (pod: "p_ns(uid-1)", container: c)`},
		{name: "container overrides pod", pod: &v1.SecurityContext{RunAsNonRoot: ptr(true)},
			ctr: &v1.SecurityContext{RunAsNonRoot: ptr(false)}, imageUID: root},
		{name: "image user", ctr: &v1.SecurityContext{RunAsNonRoot: ptr(true)}, imageUID: user},
		{name: "runAsUser non-root", pod: &v1.SecurityContext{RunAsUser: user},
			ctr: &v1.SecurityContext{RunAsNonRoot: ptr(true)}, imageUID: root},
		{name: "runAsUser root", ctr: &v1.SecurityContext{RunAsNonRoot: ptr(true), RunAsUser: root},
			wantErrMsg: `container's runAsUser breaks non-root policy (pod: "p_ns(uid-1)", container: c)`},
		{name: "named user", ctr: &v1.SecurityContext{RunAsNonRoot: ptr(true)}, imageUser: "nobody",
			wantErrMsg: `container has runAsNonRoot and image has non-numeric user (nobody), cannot verify user is non-root (pod: "p_ns(uid-1)", container: c)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod(v1.RestartPolicyAlways, []string{"c"})
			if tt.pod != nil {
				pod.Spec.SecurityContext = &v1.PodSecurityContext{RunAsNonRoot: tt.pod.RunAsNonRoot, RunAsUser: tt.pod.RunAsUser}
			}
			pod.Spec.Containers[0].SecurityContext = tt.ctr
			err := verifyRunAsNonRoot(pod, &pod.Spec.Containers[0], tt.imageUID, tt.imageUser)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErrMsg {
				t.Errorf("got %q, want %q", got, tt.wantErrMsg)
			}
		})
	}
}

func TestImageUser(t *testing.T) {
	if uid, name := imageUser(&runtimeapi.Image{}); uid == nil || *uid != 0 || name != "" {
		t.Errorf("no user must be root: %v %q", uid, name)
	}
	if uid, _ := imageUser(&runtimeapi.Image{Uid: &runtimeapi.Int64Value{Value: 65534}}); uid == nil || *uid != 65534 {
		t.Errorf("uid %v", uid)
	}
	if uid, name := imageUser(&runtimeapi.Image{Username: "app"}); uid != nil || name != "app" {
		t.Errorf("named: %v %q", uid, name)
	}
}

func TestContainerSecurityPodDefaults(t *testing.T) {
	pod := testPod(v1.RestartPolicyAlways, []string{"c"})
	pod.Spec.SecurityContext = &v1.PodSecurityContext{
		RunAsUser: ptr(int64(1000)), RunAsGroup: ptr(int64(3000)), SupplementalGroups: []int64{4000}, FSGroup: ptr(int64(2000)),
		SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault},
	}
	c := &pod.Spec.Containers[0]
	c.SecurityContext = &v1.SecurityContext{RunAsUser: ptr(int64(1001)), ReadOnlyRootFilesystem: ptr(true),
		Capabilities: &v1.Capabilities{Drop: []v1.Capability{"ALL"}}}
	sc := containerSecurity(pod, c)
	if sc.RunAsUser.GetValue() != 1001 || sc.RunAsGroup.GetValue() != 3000 || !sc.ReadonlyRootfs ||
		len(sc.SupplementalGroups) != 2 || sc.SupplementalGroups[0] != 4000 || sc.SupplementalGroups[1] != 2000 ||
		sc.Seccomp.ProfileType != runtimeapi.SecurityProfile_RuntimeDefault || sc.Capabilities.DropCapabilities[0] != "ALL" || sc.NoNewPrivs {
		t.Errorf("security %+v", sc)
	}
	c.SecurityContext.SeccompProfile = &v1.SeccompProfile{Type: v1.SeccompProfileTypeUnconfined}
	c.SecurityContext.AllowPrivilegeEscalation = ptr(false)
	c.SecurityContext.ProcMount = ptr(v1.UnmaskedProcMount)
	sc = containerSecurity(pod, c)
	if sc.Seccomp.ProfileType != runtimeapi.SecurityProfile_Unconfined || !sc.NoNewPrivs || len(sc.MaskedPaths) != 0 || len(sc.ReadonlyPaths) != 0 {
		t.Errorf("container overrides: %+v", sc)
	}
}
