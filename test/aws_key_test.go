package test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/test/harness"
)

// runMessage waits for the run's status message in the channel to contain want, and returns
// the message's text and blocks.
func (e *awsEnv) runMessage(ch slackfake.Channel, id, want string) string {
	e.t.Helper()
	var got string
	waitFor(e.t, func() bool {
		for _, m := range e.fake.Messages(ch.ID) {
			all := m.Text + "\n" + string(m.Blocks)
			if strings.Contains(all, "`"+id+"`") && strings.Contains(all, want) {
				got = all
				return true
			}
		}
		return false
	})
	return got
}

// keyRefusal signs an STS GetCallerIdentity with an access key pair and returns the error code
// AWS answered with, "" when it accepted the key.
func (e *awsEnv) keyRefusal(id, secret string) string {
	e.t.Helper()
	cfg := awssdk.Config{Region: harness.AWSRegion, BaseEndpoint: awssdk.String(e.aws.URL),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""), Retryer: func() awssdk.Retryer { return awssdk.NopRetryer{} }}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var ae smithy.APIError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ae):
		return ae.ErrorCode()
	}
	e.t.Fatalf("GetCallerIdentity as %s: %v", id, err)
	return ""
}

// fakeSecret is the secret key awsfake issues with an access key it generates (harness.SeedAWS
// keeps only the ID of the leaked key); keyRefusal before the run proves it right.
func fakeSecret(id string) string { return "fakesecret/" + id + "/" + strings.Repeat("x", 16) }

// iamUserState is one IAM user as the fake's State shows it.
type iamUserState struct {
	Tags []struct{ Key, Value string }
	Keys []struct {
		ID, Status string
	}
	Policies map[string]string
}

// iamUserOf reads an IAM user of the prod account from the fake's State.
func (e *awsEnv) iamUserOf(name string) iamUserState {
	e.t.Helper()
	b, err := json.Marshal(e.aws.State().IAM)
	if err != nil {
		e.t.Fatal(err)
	}
	var accounts map[string]struct{ Users map[string]iamUserState }
	if err := json.Unmarshal(b, &accounts); err != nil {
		e.t.Fatal(err)
	}
	u, ok := accounts[harness.AWSProdAccount].Users[name]
	if !ok {
		e.t.Fatalf("no IAM user %s in prod", name)
	}
	return u
}

// assertContained: the key is Inactive and refused, and the user holds both of Firebreak's deny
// policies.
func (e *awsEnv) assertContained(user, key, secret string) {
	e.t.Helper()
	if got := e.aws.AccessKeyStatus(key); got != "Inactive" {
		e.t.Errorf("key %s is %q, want Inactive", key, got)
	}
	if code := e.keyRefusal(key, secret); code != "InvalidClientTokenId" {
		e.t.Errorf("a request signed with the deactivated key %s: %q, want InvalidClientTokenId", key, code)
	}
	pol := e.iamUserOf(user).Policies
	if doc := pol["firebreak-revoke-older-sessions"]; !strings.Contains(doc, `"Deny"`) || !strings.Contains(doc, "aws:TokenIssueTime") {
		e.t.Errorf("user %s: revoke-older-sessions policy %q", user, doc)
	}
	if doc := pol["firebreak-deny-all"]; !strings.Contains(doc, `"Deny"`) || !strings.Contains(doc, `"Action":"*"`) {
		e.t.Errorf("user %s: deny-all policy %q", user, doc)
	}
}

// failAfter makes the first failOp call after the next heldOp call fail once with a server
// error, as if AWS had faltered right after carrying out heldOp: a server error is not retried by
// the SDK, so the step's next attempt must find heldOp's change made and not make it again.
func (e *awsEnv) failAfter(svc, heldOp, failOp string) {
	reached, release := e.aws.Hold(svc, heldOp)
	stop := make(chan struct{})
	e.t.Cleanup(func() { close(stop); release() })
	go func() {
		select {
		case <-reached:
			e.aws.Fail(svc, failOp, &awsfake.Failure{Times: 1, APIError: awsfake.APIError{Status: 500, Code: "InternalFailure",
				Message: "We encountered an internal error. Please try again."}})
			release()
		case <-stop:
		}
	}()
}

// failedWith counts the calls of svc's op since call number from that failed with code.
func failedWith(f *awsfake.Server, from int, svc, op, code string) int {
	n := 0
	for _, c := range f.Calls()[from:] {
		if c.Service == svc && c.Operation == op && c.ErrorCode == code {
			n++
		}
	}
	return n
}

// TestAccessKeyCompromiseEndToEnd drives aws-access-key-compromise from Slack against awsfake: a
// plan changes nothing; an approved run deactivates the leaked key (AWS then refuses it),
// revokes its sessions, denies the user everything, and hands the commander a review task
// carrying the CloudTrail sweep; an abort during the review rolls a second run back to exactly
// the IAM state it found; with 30% of calls throttled every change is made once; an unknown key
// fails with AWS's code and changes nothing; the role's calls are exactly what
// `playbook iam-policy` grants.
func TestAccessKeyCompromiseEndToEnd(t *testing.T) {
	const pb = "aws-access-key-compromise"
	e := startAWSDev(t, "")
	ch := e.declare("Leaked CI deploy key")
	key, user := e.world.LeakedKey, e.world.LeakedKeyUser
	secret := fakeSecret(key)
	if code := e.keyRefusal(key, secret); code != "" {
		t.Fatalf("the leaked key does not sign before the run: %s", code)
	}
	args := pb + " access_key_id=" + key + " account=prod deny_all=true"

	// Plan: posted, nothing changes.
	before := e.aws.State()
	id := e.startRunID(ch, "plan", args)
	e.waitRunStatus(ch, id, "planned")
	if !reflect.DeepEqual(before, e.aws.State()) {
		t.Fatalf("a plan changed AWS:\nbefore %+v\nafter  %+v", before.IAM, e.aws.State().IAM)
	}

	// Run: the key is contained once a commander approves; the review task carries the sweep.
	id = e.startRunID(ch, "run", args)
	e.approve(ch, "deactivate")
	task := e.runMessage(ch, id, ":clipboard: `review` awaiting task")
	for _, want := range []string{"Review the CloudTrail sweep of " + key, "user " + user, "120 ListBuckets", "192.0.2.99"} {
		if !strings.Contains(task, want) {
			t.Errorf("the review task lacks %q:\n%s", want, task)
		}
	}
	e.assertContained(user, key, secret)
	if out := e.command("U0IC2", ch.ID, ch.Name, "done review nothing else touched", "trig-done-"+nowTag(), nil); !strings.Contains(out["text"].(string), "finished `review`") {
		t.Fatalf("done review: %v", out)
	}
	e.waitRunStatus(ch, id, "succeeded")
	e.assertContained(user, key, secret)

	// Rollback: a second leaked key, contained, then the run is aborted during the review; IAM
	// is as the run found it and the key signs again.
	issued := e.aws.AddIAMUser(harness.AWSProdAccount, awsfake.IAMUser{Name: "build-bot", Keys: []awsfake.IAMAccessKey{{}}})
	key2, secret2 := issued[0].AccessKeyID, issued[0].SecretAccessKey
	before = e.aws.State()
	id = e.startRunID(ch, "run", pb+" access_key_id="+key2+" account=prod deny_all=true")
	e.approve(ch, "deactivate")
	e.runMessage(ch, id, ":clipboard: `review` awaiting task")
	e.assertContained("build-bot", key2, secret2)
	if out := e.command("U0IC1", ch.ID, ch.Name, "abort false alarm", "trig-abort-"+nowTag(), nil); !strings.Contains(out["text"].(string), "aborted") {
		t.Fatalf("abort: %v", out)
	}
	e.waitRunStatus(ch, id, "aborted")
	if after := e.aws.State(); !reflect.DeepEqual(before, after) {
		t.Fatalf("the rollback did not restore IAM:\nbefore %+v\nafter  %+v", before.IAM, after.IAM)
	}
	if code := e.keyRefusal(key2, secret2); code != "" {
		t.Errorf("the reactivated key is refused: %s", code)
	}

	// 30% of AWS calls throttled, and a server error right after the key's user is tagged: the
	// run completes and each change is made once.
	issued = e.aws.AddIAMUser(harness.AWSProdAccount, awsfake.IAMUser{Name: "deploy-bot", Keys: []awsfake.IAMAccessKey{{}}})
	key3, secret3 := issued[0].AccessKeyID, issued[0].SecretAccessKey
	ops := []string{"UpdateAccessKey", "PutUserPolicy", "TagUser"}
	want := map[string]int{"UpdateAccessKey": 1, "PutUserPolicy": 2, "TagUser": 1}
	start := map[string]int{}
	for _, op := range ops {
		start[op] = successfulCalls(e.aws, "iam", op)
	}
	calls := len(e.aws.Calls())
	e.aws.Throttle(0.3)
	e.failAfter("iam", "TagUser", "UpdateAccessKey")
	id = e.startRunID(ch, "run", pb+" access_key_id="+key3+" account=prod deny_all=true")
	e.approve(ch, "deactivate")
	e.runMessage(ch, id, ":clipboard: `review` awaiting task")
	if out := e.command("U0IC2", ch.ID, ch.Name, "done review", "trig-done-"+nowTag(), nil); !strings.Contains(out["text"].(string), "finished `review`") {
		t.Fatalf("done review: %v", out)
	}
	e.waitRunStatus(ch, id, "succeeded")
	e.aws.Throttle(0)
	throttled := 0
	for _, c := range e.aws.Calls()[calls:] {
		if c.ErrorCode == "Throttling" || c.ErrorCode == "ThrottlingException" {
			throttled++
		}
	}
	if throttled == 0 || failedWith(e.aws, calls, "iam", "UpdateAccessKey", "InternalFailure") != 1 {
		t.Fatalf("%d calls throttled, %d UpdateAccessKey failed: the faults were not injected", throttled,
			failedWith(e.aws, calls, "iam", "UpdateAccessKey", "InternalFailure"))
	}
	for _, op := range ops {
		if n := successfulCalls(e.aws, "iam", op) - start[op]; n != want[op] {
			t.Errorf("iam:%s carried out %d times under throttling, want %d", op, n, want[op])
		}
	}
	e.assertContained("deploy-bot", key3, secret3)

	// A key AWS never issued: the owner step fails with AWS's code and message, and nothing
	// changes.
	before = e.aws.State()
	id = e.startRunID(ch, "run", pb+" access_key_id=AKIAZZZZZZZZZZZZZZZZ account=prod")
	line := e.waitRunStatus(ch, id, "failed")
	for _, want := range []string{"ValidationError", "AKIAZZZZZZZZZZZZZZZZ"} {
		if !strings.Contains(line, want) {
			t.Errorf("status of the unknown key's run lacks %q: %s", want, line)
		}
	}
	e.runMessage(ch, id, "ValidationError") // the run's own status message says why
	if after := e.aws.State(); !reflect.DeepEqual(before, after) {
		t.Fatalf("an unknown key changed AWS:\nbefore %+v\nafter  %+v", before.IAM, after.IAM)
	}

	assertPolicyMatches(t, pb, roleCalls(e.aws))
	e.assertNoSecrets()
}
