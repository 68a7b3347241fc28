package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Kind is the class of an AWS failure, which decides whether retrying can help.
type Kind int

const (
	KindOther        Kind = iota // an API error we do not classify: not retried
	KindThrottled                // AWS throttled the call: retried with backoff
	KindServer                   // 5xx: retried
	KindTransport                // the request never got an answer: retried
	KindNotFound                 // the resource does not exist: not retried
	KindAccessDenied             // the credentials may not do this: not retried
	KindValidation               // the request is malformed: not retried
	KindCanceled                 // our context was canceled: not retried
)

func (k Kind) String() string {
	switch k {
	case KindOther:
		return "other"
	case KindThrottled:
		return "throttled"
	case KindServer:
		return "server"
	case KindTransport:
		return "transport"
	case KindNotFound:
		return "not found"
	case KindAccessDenied:
		return "access denied"
	case KindValidation:
		return "validation"
	case KindCanceled:
		return "canceled"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is an AWS failure as the timeline shows it: AWS's code, message and request ID, and the
// service and operation that failed.
type Error struct {
	Service    string // lower-case SDK service ID: "ec2", "sts", "wafv2"
	Operation  string // "DescribeInstances"
	Code       string // AWS's error code; "" for transport failures
	Message    string
	RequestID  string
	StatusCode int // 0 when no response arrived
	Kind       Kind
	Err        error // the SDK's error
}

// Error reads as "ec2 DescribeInstances: InvalidInstanceID.NotFound: The instance ID 'i-0abc'
// does not exist (request 1234-...)".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Service != "" || e.Operation != "" {
		b.WriteString(strings.TrimSpace(e.Service + " " + e.Operation))
		b.WriteString(": ")
	}
	switch {
	case e.Code != "":
		b.WriteString(e.Code)
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		}
	case e.Err != nil:
		b.WriteString(innermostCause(e.Err).Error())
	default:
		b.WriteString(e.Kind.String())
	}
	if e.RequestID != "" {
		b.WriteString(" (request " + e.RequestID + ")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable says whether another attempt can succeed: throttling, 5xx and transport failures.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindThrottled, KindServer, KindTransport:
		return true
	}
	return false
}

// Classify turns an error from an SDK call into an *Error (nil stays nil). It reads the SDK's
// typed errors, never the message text: smithy.APIError for code and message, the response error
// for status and request ID, and the innermost smithy.OperationError for service and operation
// (a credentials refresh that fails inside an EC2 call is reported as the STS AssumeRole it was).
func Classify(err error) error {
	if err == nil {
		return nil
	}
	if already := (*Error)(nil); errors.As(err, &already) {
		return err
	}
	e := &Error{Err: err}
	for cur := err; cur != nil; cur = errors.Unwrap(cur) {
		if oe, ok := cur.(*smithy.OperationError); ok {
			e.Service = strings.ToLower(strings.ReplaceAll(oe.ServiceID, " ", ""))
			e.Operation = oe.OperationName
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.RequestID = re.ServiceRequestID()
		if re.Response != nil {
			e.StatusCode = re.Response.StatusCode
		}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code, e.Message = api.ErrorCode(), api.ErrorMessage()
	}
	e.Kind = kind(err, e.Code, e.StatusCode)
	return e
}

func kind(err error, code string, status int) Kind {
	if errors.Is(err, context.Canceled) {
		return KindCanceled
	}
	switch code {
	case "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
		"RequestThrottled", "RequestThrottledException", "SlowDown", "PriorRequestNotComplete":
		return KindThrottled
	case "NoSuchEntity", "WAFNonexistentItemException", "ResourceNotFoundException":
		return KindNotFound
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
		"InvalidClientTokenId", "AuthFailure":
		return KindAccessDenied
	case "ValidationError", "ValidationException", "InvalidParameterValue", "InvalidParameterCombination",
		"MissingParameter":
		return KindValidation
	case "InternalError", "InternalFailure", "ServiceUnavailable", "InternalServerError":
		return KindServer
	}
	switch {
	case strings.HasSuffix(code, ".NotFound"): // EC2: InvalidInstanceID.NotFound, InvalidGroup.NotFound, ...
		return KindNotFound
	case status >= 500:
		return KindServer
	case code == "" && isTransport(err):
		return KindTransport
	}
	return KindOther
}

func isTransport(err error) bool {
	var send *smithyhttp.RequestSendError
	return errors.As(err, &send) || errors.Is(err, context.DeadlineExceeded)
}

// innermostCause drops the SDK's "operation error X: Y, https response error ..." prefixes, which
// Error already says in its own words.
func innermostCause(err error) error {
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) && send.Err != nil {
		return send.Err
	}
	return err
}
