package awsfake_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/ec2query"
	awsxml "github.com/aws/aws-sdk-go-v2/aws/protocol/xml"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	fbaws "github.com/firebreak-ir/firebreak/integrations/aws"
	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
)

const (
	secAccount  = "111111111111"
	prodAccount = "222222222222"
	prodRole    = "arn:aws:iam::222222222222:role/firebreak-responder"
)

// client is a real STS client pointed at the fake, with SDK retries off so every call the test
// makes is one call the fake sees.
func client(f *awsfake.Server, id, secret, token string) *sts.Client {
	return sts.New(sts.Options{
		Region:           "us-east-1",
		BaseEndpoint:     awssdk.String(f.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, token),
		RetryMaxAttempts: 1, HTTPClient: fbaws.HTTPClient(),
	})
}

func newFake(t *testing.T) *awsfake.Server {
	t.Helper()
	f := awsfake.New()
	t.Cleanup(f.Close)
	return f
}

func apiError(t *testing.T, err error) (code, requestID string, status int) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("want an API error, got %v", err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want a response error, got %v", err)
	}
	return api.ErrorCode(), re.ServiceRequestID(), re.Response.StatusCode
}

func TestGetCallerIdentityNamesTheUser(t *testing.T) {
	f := newFake(t)
	id, secret := f.AddUser(secAccount, "responder")
	out, err := client(f, id, secret, "").GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := awssdk.ToString(out.Arn); got != "arn:aws:iam::111111111111:user/responder" {
		t.Errorf("arn: %q", got)
	}
	if got := awssdk.ToString(out.Account); got != secAccount {
		t.Errorf("account: %q", got)
	}
	calls := f.Calls()
	if len(calls) != 1 {
		t.Fatalf("calls: %+v", calls)
	}
	c := calls[0]
	if c.Service != "sts" || c.Operation != "GetCallerIdentity" || c.Account != secAccount || c.AccessKeyID != id || c.Region != "us-east-1" {
		t.Errorf("record: %+v", c)
	}
	if c.RequestID == "" {
		t.Error("no request ID recorded")
	}
}

func TestAssumeRoleAttributesCallsToTheRoleSession(t *testing.T) {
	f := newFake(t)
	id, secret := f.AddUser(secAccount, "responder")
	f.AddRole(prodRole)
	ctx := context.Background()
	out, err := client(f, id, secret, "").AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: awssdk.String(prodRole), RoleSessionName: awssdk.String("firebreak-INC-1-isolate"),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	if !strings.HasPrefix(awssdk.ToString(c.AccessKeyId), "ASIA") || awssdk.ToString(c.SessionToken) == "" || c.Expiration == nil {
		t.Fatalf("credentials: %+v", c)
	}
	who, err := client(f, *c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	want := "arn:aws:sts::222222222222:assumed-role/firebreak-responder/firebreak-INC-1-isolate"
	if awssdk.ToString(who.Arn) != want || awssdk.ToString(who.Account) != prodAccount {
		t.Errorf("caller: %s in %s, want %s", awssdk.ToString(who.Arn), awssdk.ToString(who.Account), want)
	}
	last := f.CallsTo("sts", "GetCallerIdentity")[0]
	if last.Account != prodAccount || last.Principal != want {
		t.Errorf("record: %+v", last)
	}
	assume := f.CallsTo("sts", "AssumeRole")[0]
	if assume.Params.Get("RoleSessionName") != "firebreak-INC-1-isolate" || assume.Account != secAccount {
		t.Errorf("assume record: %+v", assume)
	}

	// The temporary key is only good with its session token.
	_, err = client(f, *c.AccessKeyId, *c.SecretAccessKey, "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code, _, status := apiError(t, err); code != "InvalidClientTokenId" || status != 403 {
		t.Errorf("without token: %s %d", code, status)
	}
}

func TestAssumeRoleRefusesUnknownRolesAndBadSessionNames(t *testing.T) {
	f := newFake(t)
	id, secret := f.AddUser(secAccount, "responder")
	f.AddRole(prodRole)
	ctx := context.Background()
	c := client(f, id, secret, "")

	_, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: awssdk.String("arn:aws:iam::333333333333:role/other"), RoleSessionName: awssdk.String("s1"),
	})
	code, reqID, status := apiError(t, err)
	if code != "AccessDenied" || status != 403 {
		t.Errorf("unknown role: %s %d", code, status)
	}
	if rec := f.CallsTo("sts", "AssumeRole")[0]; rec.RequestID != reqID || rec.ErrorCode != "AccessDenied" {
		t.Errorf("request ID %q, record %+v", reqID, rec)
	}
	if !strings.Contains(err.Error(), "is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::333333333333:role/other") {
		t.Errorf("message: %v", err)
	}

	for _, name := range []string{"has space", "colon:x", strings.Repeat("a", 65), "a"} {
		_, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: awssdk.String(prodRole), RoleSessionName: awssdk.String(name)})
		if err == nil {
			t.Errorf("session name %q accepted", name)
			continue
		}
		// The SDK validates some constraints itself; what reaches the fake must be refused by it.
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() != "ValidationError" {
			t.Errorf("session name %q: %v", name, err)
		}
	}
}

func TestGetAccessKeyInfoFindsTheAccount(t *testing.T) {
	f := newFake(t)
	id, secret := f.AddUser(secAccount, "responder")
	leaked, _ := f.AddUser(prodAccount, "ci")
	out, err := client(f, id, secret, "").GetAccessKeyInfo(context.Background(), &sts.GetAccessKeyInfoInput{AccessKeyId: awssdk.String(leaked)})
	if err != nil {
		t.Fatal(err)
	}
	if awssdk.ToString(out.Account) != prodAccount {
		t.Errorf("account: %q", awssdk.ToString(out.Account))
	}
}

func TestWrongSecretIsRefused(t *testing.T) {
	f := newFake(t)
	id, _ := f.AddUser(secAccount, "responder")
	_, err := client(f, id, "not-the-secret", "").GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if code, _, status := apiError(t, err); code != "SignatureDoesNotMatch" || status != 403 {
		t.Errorf("got %s %d", code, status)
	}
	resp := rawCall(t, f, "ssm", id, "wrong", "{}", map[string]string{"X-Amz-Target": "AmazonSSM.SendCommand"})
	var body struct {
		Type string `json:"__type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Type != "InvalidSignatureException" {
		t.Errorf("json protocol: %+v %v", body, err)
	}
}

func TestUnknownKeyIsRefused(t *testing.T) {
	f := newFake(t)
	_, err := client(f, "AKIANOTISSUED0000000", "x", "").GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if code, _, status := apiError(t, err); code != "InvalidClientTokenId" || status != 403 {
		t.Errorf("got %s %d", code, status)
	}
}

func TestFailNamedOperation(t *testing.T) {
	f := newFake(t)
	id, secret := f.AddUser(secAccount, "responder")
	c := client(f, id, secret, "")
	ctx := context.Background()
	f.Fail("sts", "GetCallerIdentity", &awsfake.Failure{APIError: awsfake.APIError{Status: 500, Code: "InternalFailure", Message: "boom"}, Times: 2})
	for i := range 2 {
		_, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if code, _, status := apiError(t, err); code != "InternalFailure" || status != 500 {
			t.Errorf("call %d: %s %d", i, code, status)
		}
	}
	if _, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("third call: %v", err)
	}
}

func TestThrottleIsDeterministic(t *testing.T) {
	f := newFake(t)
	id, secret := f.AddUser(secAccount, "responder")
	c := client(f, id, secret, "")
	f.Throttle(0.3)
	var throttled []int
	for i := 1; i <= 10; i++ {
		_, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err == nil {
			continue
		}
		if code, _, status := apiError(t, err); code != "Throttling" || status != 400 {
			t.Fatalf("call %d: %s %d", i, code, status)
		}
		throttled = append(throttled, i)
	}
	if !slices.Equal(throttled, []int{4, 7, 10}) {
		t.Errorf("throttled calls: %v, want [4 7 10]", throttled)
	}
}

// rawCall sends a request signed with SigV4 but built by hand, to see the bytes of the fake's
// error shapes for services whose SDK clients this package does not depend on yet.
func rawCall(t *testing.T, f *awsfake.Server, svc, keyID, secret, body string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256([]byte(body))
	creds := awssdk.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), svc, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func TestErrorShapesPerProtocol(t *testing.T) {
	f := newFake(t)
	id, secret := f.AddUser(secAccount, "responder")

	t.Run("ec2", func(t *testing.T) {
		f.Fail("ec2", "DescribeInstances", &awsfake.Failure{APIError: awsfake.APIError{Code: "InvalidInstanceID.NotFound", Message: "The instance ID 'i-0abc' does not exist"}})
		resp := rawCall(t, f, "ec2", id, secret, "Action=DescribeInstances&Version=2016-11-15", nil)
		ec, err := ec2query.GetErrorResponseComponents(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if ec.Code != "InvalidInstanceID.NotFound" || ec.Message != "The instance ID 'i-0abc' does not exist" || ec.RequestID == "" || ec.RequestID != resp.Header.Get("x-amzn-RequestId") {
			t.Errorf("ec2 error: %+v, header %q", ec, resp.Header.Get("x-amzn-RequestId"))
		}
	})
	t.Run("iam", func(t *testing.T) {
		resp := rawCall(t, f, "iam", id, secret, "Action=ListUsers&Version=2010-05-08", nil)
		ec, err := awsxml.GetErrorResponseComponents(resp.Body, false)
		if err != nil {
			t.Fatal(err)
		}
		if ec.Code != "InvalidAction" || ec.RequestID == "" || ec.RequestID != resp.Header.Get("x-amzn-RequestId") || resp.StatusCode != 400 {
			t.Errorf("iam error: %+v (status %d)", ec, resp.StatusCode)
		}
	})
	t.Run("json", func(t *testing.T) {
		f.Fail("wafv2", "GetIPSet", &awsfake.Failure{APIError: awsfake.APIError{Code: "WAFNonexistentItemException", Message: "AWS WAF couldn’t perform the operation because your resource doesn’t exist."}})
		resp := rawCall(t, f, "wafv2", id, secret, "{}", map[string]string{"X-Amz-Target": "AWSWAF_20190729.GetIPSet", "Content-Type": "application/x-amz-json-1.1"})
		var body struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if body.Type != "WAFNonexistentItemException" || body.Message == "" || resp.Header.Get("x-amzn-RequestId") == "" {
			t.Errorf("json error: %+v, header %q", body, resp.Header.Get("x-amzn-RequestId"))
		}
		if rec := f.CallsTo("wafv2", "GetIPSet"); len(rec) != 1 || string(rec[0].Body) != "{}" {
			t.Errorf("record: %+v", rec)
		}
	})
}

// TestHoldCarriesOutTheCallAfterTheClientLeft: a held call waits for release and is then
// answered by its handler even though the client gave up in the meantime.
func TestHoldCarriesOutTheCallAfterTheClientLeft(t *testing.T) {
	f := newFake(t)
	id, secret := f.AddUser(secAccount, "responder")
	handled := make(chan struct{})
	f.Handle("sts", "GetSessionToken", func(*awsfake.Server, *awsfake.Request) (any, error) {
		close(handled)
		return nil, nil
	})
	reached, release := f.Hold("sts", "GetSessionToken")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := client(f, id, secret, "").GetSessionToken(ctx, &sts.GetSessionTokenInput{})
		done <- err
	}()
	<-reached
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the client should have given up")
	}
	select {
	case <-handled:
		t.Fatal("handled before release")
	default:
	}
	release()
	<-handled
	if n := len(f.CallsTo("sts", "GetSessionToken")); n != 1 {
		t.Errorf("%d calls recorded, want 1", n)
	}
}
