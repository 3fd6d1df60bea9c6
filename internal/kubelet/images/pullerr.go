package images

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
)

// Waiting reasons of a container whose image is not there, as upstream.
const (
	ReasonErrImagePull        = "ErrImagePull"
	ReasonImagePullBackOff    = "ImagePullBackOff"
	ReasonErrImageNeverPull   = "ErrImageNeverPull"
	ReasonRegistryUnavailable = "RegistryUnavailable"
	ReasonInvalidImageName    = "InvalidImageName"
	ReasonImageInspectError   = "ImageInspectError"
	ReasonSignatureInvalid    = "SignatureValidationFailed"
	registryUnavailablePrefix = "RegistryUnavailable"
	signatureValidationPrefix = "SignatureValidationFailed"
)

// PullError turns a CRI PullImage error into what upstream's kubelet
// reports: the error text (events "Failed to pull image ...: <text>") and
// the waiting reason with its message. gRPC errors of code Unknown lose
// their "rpc error: code = Unknown desc = " prefix (it adds nothing);
// other codes keep it, as upstream's CRI client does.
func PullError(image string, err error) (text, reason, message string) {
	text = err.Error()
	if s, ok := grpcstatus.FromError(err); ok && s.Code() == codes.Unknown {
		text = s.Message()
	}
	switch {
	case strings.HasPrefix(text, registryUnavailablePrefix):
		return text, ReasonRegistryUnavailable, fmt.Sprintf("image pull failed for %s because the registry is unavailable%s",
			image, strings.TrimPrefix(text, registryUnavailablePrefix))
	case strings.HasPrefix(text, signatureValidationPrefix):
		return text, ReasonSignatureInvalid, fmt.Sprintf("image pull failed for %s because the signature validation failed%s",
			image, strings.TrimPrefix(text, signatureValidationPrefix))
	}
	return text, ReasonErrImagePull, text
}

// BackOffMessage is the waiting message of a container in
// ImagePullBackOff: upstream appends the last pull's reason and message.
func BackOffMessage(image, lastReason, lastMessage string) string {
	msg := fmt.Sprintf("Back-off pulling image %q", image)
	if lastReason != "" {
		msg += ": " + lastReason + ": " + lastMessage
	}
	return msg
}

// NeverPullMessage is the waiting message (and event) of a missing image
// with pull policy Never.
func NeverPullMessage(image string) string {
	return fmt.Sprintf("Container image %q is not present with pull policy of Never", image)
}

// ErrNeverPull is returned when policy Never meets a missing image.
var ErrNeverPull = errors.New(ReasonErrImageNeverPull)
