package aws_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/firebreak-ir/firebreak/integrations/aws"
	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
)

// callFailing makes one real GetCallerIdentity call that the fake fails with code and status,
// and returns the classified error and the request ID the fake answered with.
func callFailing(t *testing.T, f *awsfake.Server, a *aws.Accounts, status int, code, msg string) (*aws.Error, string) {
	t.Helper()
	// Every send fails, so the SDK's throttling retries end the same way as one send does.
	f.Fail("sts", "GetCallerIdentity", &awsfake.Failure{APIError: awsfake.APIError{Status: status, Code: code, Message: msg}})
	defer f.Fail("sts", "GetCallerIdentity", nil)
	cfg, err := a.For(context.Background(), "security", aws.Session{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	var ae *aws.Error
	if !errors.As(aws.Classify(err), &ae) {
		t.Fatalf("Classify(%v) is not an *aws.Error", err)
	}
	calls := f.CallsTo("sts", "GetCallerIdentity")
	return ae, calls[len(calls)-1].RequestID
}

func TestClassifyAWSErrors(t *testing.T) {
	f := setup(t)
	a := newAccounts(t, accountsConfig(f.URL))
	for _, tc := range []struct {
		status    int
		code      string
		kind      aws.Kind
		retryable bool
	}{
		{400, "Throttling", aws.KindThrottled, true},
		{400, "ThrottlingException", aws.KindThrottled, true},
		{503, "RequestLimitExceeded", aws.KindThrottled, true},
		{429, "TooManyRequestsException", aws.KindThrottled, true},
		{400, "RequestThrottled", aws.KindThrottled, true},
		{503, "SlowDown", aws.KindThrottled, true},
		{400, "PriorRequestNotComplete", aws.KindThrottled, true},
		{500, "InternalFailure", aws.KindServer, true},
		{503, "SomethingNew", aws.KindServer, true},
		{400, "InvalidInstanceID.NotFound", aws.KindNotFound, false},
		{404, "NoSuchEntity", aws.KindNotFound, false},
		{400, "WAFNonexistentItemException", aws.KindNotFound, false},
		{400, "ResourceNotFoundException", aws.KindNotFound, false},
		{403, "AccessDenied", aws.KindAccessDenied, false},
		{400, "AccessDeniedException", aws.KindAccessDenied, false},
		{403, "UnauthorizedOperation", aws.KindAccessDenied, false},
		{400, "UnrecognizedClientException", aws.KindAccessDenied, false},
		{400, "ValidationError", aws.KindValidation, false},
		{400, "ValidationException", aws.KindValidation, false},
		{400, "InvalidParameterValue", aws.KindValidation, false},
		{400, "InvalidParameterCombination", aws.KindValidation, false},
		{400, "MissingParameter", aws.KindValidation, false},
		{400, "IncorrectState", aws.KindOther, false},
	} {
		t.Run(tc.code, func(t *testing.T) {
			msg := "message for " + tc.code
			ae, reqID := callFailing(t, f, a, tc.status, tc.code, msg)
			if ae.Kind != tc.kind || ae.Retryable() != tc.retryable {
				t.Errorf("kind %v retryable %v, want %v %v", ae.Kind, ae.Retryable(), tc.kind, tc.retryable)
			}
			if ae.Code != tc.code || ae.Message != msg || ae.StatusCode != tc.status || ae.RequestID != reqID {
				t.Errorf("fields: %+v (request %s)", ae, reqID)
			}
			want := fmt.Sprintf("sts GetCallerIdentity: %s: %s (request %s)", tc.code, msg, reqID)
			if ae.Error() != want {
				t.Errorf("Error() = %q, want %q", ae.Error(), want)
			}
		})
	}
}

func TestClassifyReadsLikeATimelineLine(t *testing.T) {
	f := setup(t)
	a := newAccounts(t, accountsConfig(f.URL))
	ae, reqID := callFailing(t, f, a, 400, "InvalidInstanceID.NotFound", "The instance ID 'i-0abc' does not exist")
	want := "sts GetCallerIdentity: InvalidInstanceID.NotFound: The instance ID 'i-0abc' does not exist (request " + reqID + ")"
	if ae.Error() != want {
		t.Errorf("got %q, want %q", ae.Error(), want)
	}
}

// The SDK resends only what AWS throttled, at most three sends, then hands it back retryable for
// Temporal's retry policy; a 5xx, which may have half-happened, is sent once. AWS_MAX_ATTEMPTS
// must not bring the SDK's general retries back.
func TestSDKRetriesOnlyThrottling(t *testing.T) {
	f := setup(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "5")
	a := newAccounts(t, accountsConfig(f.URL))
	cfg, err := a.For(context.Background(), "security", aws.Session{})
	if err != nil {
		t.Fatal(err)
	}
	call := func() error {
		_, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		return err
	}
	sends := func() int { return len(f.CallsTo("sts", "GetCallerIdentity")) }

	// Throttled twice, then through: the call succeeds on its third send.
	f.Fail("sts", "GetCallerIdentity", &awsfake.Failure{APIError: awsfake.APIError{Code: "Throttling", Message: "Rate exceeded"}, Times: 2})
	if err := call(); err != nil {
		t.Fatalf("throttled twice: %v", err)
	}
	if n := sends(); n != 3 {
		t.Errorf("throttled twice: %d sends, want 3", n)
	}

	// Throttled for good: three sends, then a retryable Throttling error.
	f.Throttle(1)
	err = call()
	var ae *aws.Error
	if !errors.As(aws.Classify(err), &ae) || !ae.Retryable() || ae.Code != "Throttling" {
		t.Fatalf("throttled: got %v", err)
	}
	if n := sends(); n != 6 {
		t.Errorf("throttled for good: %d sends in all, want 3 more", n-3)
	}
	f.Throttle(0)

	// A server error may have half-happened: one send, retryable by Temporal.
	f.Fail("sts", "GetCallerIdentity", &awsfake.Failure{APIError: awsfake.APIError{Status: 500, Code: "InternalFailure", Message: "oops"}, Times: 1})
	err = call()
	if !errors.As(aws.Classify(err), &ae) || !ae.Retryable() || ae.Code != "InternalFailure" {
		t.Fatalf("5xx: got %v", err)
	}
	if n := sends(); n != 7 {
		t.Errorf("5xx: %d more sends, want 1", n-6)
	}
}

func TestClassifyTransportAndCancel(t *testing.T) {
	f := setup(t)
	dead := httptest.NewServer(nil)
	deadURL := dead.URL
	dead.Close()
	a := newAccounts(t, accountsConfig(deadURL))
	cfg, err := a.For(context.Background(), "security", aws.Session{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	var ae *aws.Error
	if !errors.As(aws.Classify(err), &ae) {
		t.Fatalf("got %v", err)
	}
	if ae.Kind != aws.KindTransport || !ae.Retryable() || ae.Code != "" || ae.StatusCode != 0 {
		t.Errorf("transport: %+v", ae)
	}
	if !strings.HasPrefix(ae.Error(), "sts GetCallerIdentity: ") || !strings.Contains(ae.Error(), "connection refused") {
		t.Errorf("transport Error() = %q", ae.Error())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	good := newAccounts(t, accountsConfig(f.URL))
	cfg, err = good.For(context.Background(), "security", aws.Session{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if !errors.As(aws.Classify(err), &ae) || ae.Kind != aws.KindCanceled || ae.Retryable() {
		t.Errorf("canceled: %v", err)
	}
	if !errors.Is(aws.Classify(err), context.Canceled) {
		t.Error("Classify hides context.Canceled")
	}
}

func TestClassifyNil(t *testing.T) {
	if aws.Classify(nil) != nil {
		t.Error("Classify(nil) != nil")
	}
}

// Canary credentials must not show up in any rendering of our types or errors.
func TestCredentialsNeverRendered(t *testing.T) {
	f := setup(t)
	const canarySecret = "CANARYsecretDoNotLog0123456789abcdefghij"
	const canaryToken = "CANARYtokenDoNotLog0123456789"
	// The fake checks signatures, so the canary is the user's real secret.
	id, _ := f.AddUserWithSecret(secAccount, "canary", canarySecret)
	t.Setenv("AWS_ACCESS_KEY_ID", id)
	t.Setenv("AWS_SECRET_ACCESS_KEY", canarySecret)
	t.Setenv("AWS_SESSION_TOKEN", canaryToken)
	cfg := accountsConfig(f.URL)
	a := newAccounts(t, cfg)

	var rendered []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		rendered = append(rendered, fmt.Sprintf(verb, a))
	}
	// An assumed role's temporary secret must not leak either.
	prod, err := a.For(context.Background(), "prod", aws.Session{Incident: "INC-1", Step: "s"})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := prod.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	security, err := a.For(context.Background(), "security", aws.Session{})
	if err != nil {
		t.Fatal(err)
	}
	// The SDK keeps the environment's keys in ConfigSources by value, and its credentials cache
	// holds the keys it retrieved; no verb may show them.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		rendered = append(rendered, fmt.Sprintf(verb, prod), fmt.Sprintf(verb, security))
	}
	_, err = a.For(context.Background(), "nope", aws.Session{})
	rendered = append(rendered, err.Error())
	f.Fail("sts", "AssumeRole", &awsfake.Failure{APIError: awsfake.APIError{Status: 403, Code: "AccessDenied", Message: "denied"}})
	_, err = a.For(context.Background(), "prod", aws.Session{Incident: "INC-2"})
	rendered = append(rendered, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", aws.Classify(err)))
	_, callErr := sts.NewFromConfig(prod).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if callErr != nil {
		t.Fatal(callErr)
	}
	f.Throttle(1)
	_, callErr = sts.NewFromConfig(prod).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	rendered = append(rendered, aws.Classify(callErr).Error(), fmt.Sprintf("%+v", aws.Classify(callErr)))

	for _, r := range rendered {
		for _, secret := range []string{canarySecret, canaryToken, id, creds.SecretAccessKey, creds.SessionToken, creds.AccessKeyID} {
			if strings.Contains(r, secret) || strings.Contains(r, hex.EncodeToString([]byte(secret))) {
				t.Errorf("rendering carries a credential (%.8s...): %s", secret, r)
			}
		}
	}
}

// A credentials refresh that fails inside another call is reported as the AssumeRole it was,
// with STS's code and request ID, not as the outer call.
func TestClassifyNamesTheInnermostOperation(t *testing.T) {
	f := setup(t)
	a := newAccounts(t, accountsConfig(f.URL))
	cfg, err := a.For(context.Background(), "security", aws.Session{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Credentials = awssdk.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), "arn:aws:iam::333333333333:role/not-registered"))
	_, err = sts.NewFromConfig(cfg).GetAccessKeyInfo(context.Background(), &sts.GetAccessKeyInfoInput{AccessKeyId: awssdk.String("AKIAFAKE000000000001")})
	var ae *aws.Error
	if !errors.As(aws.Classify(err), &ae) {
		t.Fatalf("got %v", err)
	}
	rec := f.CallsTo("sts", "AssumeRole")
	if ae.Operation != "AssumeRole" || ae.Code != "AccessDenied" || len(rec) != 1 || ae.RequestID != rec[0].RequestID {
		t.Errorf("got %+v", ae)
	}
	if n := len(f.CallsTo("sts", "GetAccessKeyInfo")); n != 0 {
		t.Errorf("the outer call was sent %d times without credentials", n)
	}
}
