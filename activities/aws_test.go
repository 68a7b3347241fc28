package activities

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"go.temporal.io/sdk/temporal"

	fbaws "github.com/firebreak-ir/firebreak/integrations/aws"
	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
	"github.com/firebreak-ir/firebreak/integrations/config"
)

// Test accounts: the responder's own (security) and the one actions act in (prod).
const (
	testSecAccount  = "111111111111"
	testProdAccount = "222222222222"
	testProdRole    = "arn:aws:iam::222222222222:role/firebreak-responder"
)

// newTestAWS starts awsfake with a responder in the security account whose keys are in the
// environment, a prod role to assume, and an AWS runner configured with both accounts.
func newTestAWS(t *testing.T) (*AWS, *awsfake.Server) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "eu-west-1")
	f := awsfake.New()
	t.Cleanup(f.Close)
	id, secret := f.AddUser(testSecAccount, "responder")
	t.Setenv("AWS_ACCESS_KEY_ID", id)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	f.AddRole(testProdRole)
	cfg := config.AWS{EndpointURL: f.URL, Accounts: map[string]config.AWSAccount{
		"prod": {AccountID: testProdAccount, RoleARN: testProdRole},
	}}
	return &AWS{Accounts: func(ctx context.Context) (*fbaws.Accounts, error) {
		return fbaws.New(ctx, cfg, fbaws.Options{})
	}}, f
}

func TestAWSSessionRecordsRequestIDsAndNamesTheIncident(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	s, err := a.session(ctx, Request{Incident: "INC-2026-0042", StepID: "isolate"}, AWSTarget{Account: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sts.NewFromConfig(s.Config).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := *out.Arn; !strings.HasSuffix(got, "/firebreak-INC-2026-0042-isolate") {
		t.Errorf("acting as %s", got)
	}
	f.Fail("sts", "GetCallerIdentity", &awsfake.Failure{APIError: awsfake.APIError{Code: "AccessDenied", Status: 403, Message: "no"}})
	if _, err := sts.NewFromConfig(s.Config).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
		t.Fatal("want the planted failure")
	}
	calls := f.CallsTo("sts", "GetCallerIdentity")
	want := []string{calls[0].RequestID, calls[1].RequestID}
	if got := s.RequestIDs(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("request IDs %v, want %v (the failed call's too)", got, want)
	}
}

func TestAWSFailureRetriesOnlyWhatCanSucceed(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	s, err := a.session(ctx, Request{Incident: "INC-1", StepID: "s"}, AWSTarget{Account: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		code, msg string
		status    int
		retryable bool
	}{
		{"Throttling", "Rate exceeded", 400, true},
		{"InternalFailure", "oops", 500, true},
		{"AccessDenied", "User is not authorized", 403, false},
		{"ValidationError", "bad", 400, false},
	} {
		f.Fail("sts", "GetCallerIdentity", &awsfake.Failure{APIError: awsfake.APIError{Code: tc.code, Message: tc.msg, Status: tc.status}})
		_, err := sts.NewFromConfig(s.Config).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		f.Fail("sts", "GetCallerIdentity", nil)
		err = awsFailure(err)
		var app *temporal.ApplicationError
		if !errors.As(err, &app) {
			t.Fatalf("%s: %T %v, want an application error", tc.code, err, err)
		}
		if app.Type() != tc.code || app.NonRetryable() == tc.retryable {
			t.Errorf("%s: type %q non-retryable %v", tc.code, app.Type(), app.NonRetryable())
		}
		if !strings.Contains(app.Error(), tc.code+": "+tc.msg) || !strings.Contains(app.Error(), "(request fa4e") {
			t.Errorf("%s: message %q lacks AWS's code, message or request ID", tc.code, app.Error())
		}
	}
}

func TestAWSUnknownAccountIsBadInput(t *testing.T) {
	a, f := newTestAWS(t)
	_, err := a.session(context.Background(), Request{Incident: "INC-1", StepID: "s"}, AWSTarget{Account: "staging"})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrBadInput || !app.NonRetryable() || !strings.Contains(err.Error(), `"staging" (known: prod)`) {
		t.Fatalf("got %v", err)
	}
	if len(f.Calls()) != 0 {
		t.Errorf("calls made for an unknown account: %d", len(f.Calls()))
	}
}

func TestAWSWithoutAccessSaysSo(t *testing.T) {
	_, err := (&AWS{}).session(context.Background(), Request{}, AWSTarget{})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrAWSNotConfigured || !app.NonRetryable() {
		t.Fatalf("got %v", err)
	}
}

// The activity error says AWS's failure once: no SDK error chain behind it to repeat it.
func TestAWSFailureSaysItOnce(t *testing.T) {
	a, f := newTestAWS(t)
	s, err := a.session(context.Background(), Request{Incident: "INC-1", StepID: "s"}, AWSTarget{Account: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	f.Fail("sts", "GetCallerIdentity", &awsfake.Failure{APIError: awsfake.APIError{Code: "AccessDenied", Message: "nope", Status: 403}})
	_, err = sts.NewFromConfig(s.Config).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	err = awsFailure(err)
	if n := strings.Count(err.Error(), "AccessDenied: nope"); n != 1 || errors.Unwrap(err) != nil {
		t.Errorf("%q says it %d times (cause %v)", err, n, errors.Unwrap(err))
	}
}

// A worker without any AWS credentials says so, naming where it looked, before any call.
func TestAWSWithoutCredentialsSaysWhatIsMissing(t *testing.T) {
	a, f := newTestAWS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	_, err := a.session(context.Background(), Request{Incident: "INC-1", StepID: "s"}, AWSTarget{Account: "prod"})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrAWSNoCredentials || !app.NonRetryable() || !strings.Contains(err.Error(), "AWS_PROFILE") {
		t.Fatalf("got %v", err)
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("%d calls made without credentials", n)
	}
}

// A failed load of the AWS configuration is tried again by the next step, not kept for the
// worker's lifetime.
func TestAWSLoadIsRetriedAfterAFailure(t *testing.T) {
	ok, _ := newTestAWS(t)
	calls := 0
	a := &AWS{Accounts: func(ctx context.Context) (*fbaws.Accounts, error) {
		calls++
		if calls == 1 {
			return nil, errors.New("profile not readable")
		}
		return ok.Accounts(ctx)
	}}
	if _, err := a.session(context.Background(), Request{StepID: "s"}, AWSTarget{Account: "prod"}); err == nil || !strings.Contains(err.Error(), "profile not readable") {
		t.Fatalf("first: %v", err)
	}
	if _, err := a.session(context.Background(), Request{StepID: "s"}, AWSTarget{Account: "prod"}); err != nil {
		t.Fatalf("second: %v", err)
	}
}
