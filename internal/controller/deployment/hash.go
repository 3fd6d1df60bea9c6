package deployment

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/dump"
	"k8s.io/apimachinery/pkg/util/rand"
)

// TemplateHash is the pod-template-hash of a Deployment's pod template:
// FNV-32a over apimachinery's stable hash dump of the template, then the
// collision count (little-endian) when set, rendered as a decimal number
// in rand.SafeEncodeString's alphabet. This is the scheme upstream uses, so
// ReplicaSet names look like upstream's (web-7d9c8b6f5).
func TemplateHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*t))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}
