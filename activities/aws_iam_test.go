package activities

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	fbaws "github.com/firebreak-ir/firebreak/integrations/aws"
	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
	"github.com/firebreak-ir/firebreak/integrations/config"
)

// iamReq is a step's request as the interpreter sends it.
func iamReq(step string, with map[string]any) Request {
	return Request{IdempotencyKey: "incident-INC-7/run-1/" + step, Incident: "INC-7", WorkflowID: "incident-INC-7", StepID: step, With: with}
}

// iamCompensation is the request of req's compensation.
func iamCompensation(req Request) Request {
	req.IdempotencyKey += "/compensate"
	return req
}

func iamAction(t *testing.T, a *AWS, name string) Action {
	t.Helper()
	for _, act := range AWSActions(a) {
		if act.Spec().Name == name {
			return act
		}
	}
	t.Fatalf("no action %s", name)
	return nil
}

// iamRun plans then executes, checking that the plan changed nothing.
func iamRun(t *testing.T, f *awsfake.Server, act Action, req Request) (Plan, Result) {
	t.Helper()
	ctx := context.Background()
	before := f.State()
	plan, err := act.Plan(ctx, req)
	if err != nil {
		t.Fatalf("%s plan: %v", act.Spec().Name, err)
	}
	if !reflect.DeepEqual(before, f.State()) {
		t.Fatalf("%s: the plan changed the fake's state", act.Spec().Name)
	}
	res, err := act.Execute(ctx, req)
	if err != nil {
		t.Fatalf("%s execute: %v", act.Spec().Name, err)
	}
	if len(res.RequestIDs) == 0 {
		t.Errorf("%s: no request IDs in the result", act.Spec().Name)
	}
	return plan, res
}

// iamCallsSince are the operations made after the first n calls, as "service:Operation",
// without the AssumeRole the base identity makes.
func iamCallsSince(f *awsfake.Server, n int) []string {
	var ops []string
	for _, c := range f.Calls()[n:] {
		if op := c.Service + ":" + c.Operation; op != "sts:AssumeRole" {
			ops = append(ops, op)
		}
	}
	return ops
}

// iamCheckPermissions compares the IAM actions act declares with the operations seen.
func iamCheckPermissions(t *testing.T, act Action, seen []string) {
	t.Helper()
	var declared []string
	perms := act.Spec().Permissions
	all := slices.Clone(perms.IAM)
	for _, ps := range perms.IAMByInput { // the tests exercise every input
		all = append(all, ps...)
	}
	for _, p := range all {
		if !slices.Contains(declared, p.Action) {
			declared = append(declared, p.Action)
		}
		if p.Resource != "*" && !strings.HasPrefix(p.Resource, "arn:aws:iam::*:") {
			t.Errorf("%s: %s on %q", act.Spec().Name, p.Action, p.Resource)
		}
	}
	slices.Sort(declared)
	seen = slices.Clone(seen)
	slices.Sort(seen)
	seen = slices.Compact(seen)
	if !slices.Equal(declared, seen) {
		t.Errorf("%s declares %v, the fake saw %v", act.Spec().Name, declared, seen)
	}
}

// iamSuccessful counts successful calls of an operation since call n.
func iamSuccessful(f *awsfake.Server, n int, svc, op string) int {
	c := 0
	for _, call := range f.Calls()[n:] {
		if call.Service == svc && call.Operation == op && call.ErrorCode == "" {
			c++
		}
	}
	return c
}

func iamWantError(t *testing.T, err error, typ string, retryable bool) {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		t.Fatalf("want a %s application error, got %v", typ, err)
	}
	if app.Type() != typ || app.NonRetryable() == retryable {
		t.Fatalf("got type %q non-retryable %v (%v), want %s retryable %v", app.Type(), app.NonRetryable(), err, typ, retryable)
	}
}

// iamProd is the State of the prod account's IAM.
func iamProd(f *awsfake.Server) map[string]any {
	b, _ := json.Marshal(f.State().IAM)
	var m map[string]map[string]any
	_ = json.Unmarshal(b, &m)
	return m[testProdAccount]
}

func iamUserPolicies(f *awsfake.Server, user string) map[string]any {
	users, _ := iamProd(f)["Users"].(map[string]any)
	u, _ := users[user].(map[string]any)
	p, _ := u["Policies"].(map[string]any)
	return p
}

func iamRolePolicies(f *awsfake.Server, role string) map[string]any {
	roles, _ := iamProd(f)["Roles"].(map[string]any)
	r, _ := roles[role].(map[string]any)
	p, _ := r["Policies"].(map[string]any)
	return p
}

func TestAWSIAMFindKeyOwnerInTheStepsAccount(t *testing.T) {
	a, f := newTestAWS(t)
	used := time.Date(2026, 12, 1, 10, 2, 0, 0, time.UTC)
	keys := f.AddIAMUser(testProdAccount, awsfake.IAMUser{Name: "alice", Path: "/staff/",
		Keys: []awsfake.IAMAccessKey{{LastUsed: &awsfake.AccessKeyUse{Date: used, Service: "s3", Region: "eu-west-1"}}}})
	act := iamAction(t, a, "aws.iam.find_key_owner")
	n := len(f.Calls())
	_, res := iamRun(t, f, act, iamReq("owner", map[string]any{"account": "prod", "access_key_id": keys[0].AccessKeyID}))
	want := map[string]any{
		"access_key_id": keys[0].AccessKeyID, "account_id": testProdAccount, "account": "prod", "in_configured_account": true,
		"temporary": false, "user_name": "alice", "user_arn": "arn:aws:iam::222222222222:user/staff/alice",
		"last_used": map[string]any{"date": "2026-12-01T10:02:00Z", "service": "s3", "region": "eu-west-1"},
	}
	if !reflect.DeepEqual(res.Outputs, want) {
		t.Errorf("outputs %v\nwant %v", res.Outputs, want)
	}
	if !strings.Contains(res.Summary, "user alice's") || !strings.Contains(res.Summary, "last used 2026-12-01T10:02Z (s3 in eu-west-1)") {
		t.Errorf("summary %q", res.Summary)
	}
	iamCheckPermissions(t, act, iamCallsSince(f, n))
}

func TestAWSIAMFindKeyOwnerOfAnotherAccountSaysWhich(t *testing.T) {
	a, f := newTestAWS(t)
	keys := f.AddIAMUser("333333333333", awsfake.IAMUser{Name: "mallory", Keys: []awsfake.IAMAccessKey{{}}})
	n := len(f.Calls())
	_, res := iamRun(t, f, iamAction(t, a, "aws.iam.find_key_owner"), iamReq("owner", map[string]any{"access_key_id": keys[0].AccessKeyID}))
	if res.Outputs["in_configured_account"] != false || res.Outputs["account_id"] != "333333333333" || res.Outputs["user_name"] != "" {
		t.Errorf("outputs %v", res.Outputs)
	}
	if !strings.Contains(res.Summary, "belongs to account 333333333333, not to the step's account 222222222222") {
		t.Errorf("summary %q", res.Summary)
	}
	for _, op := range iamCallsSince(f, n) {
		if strings.HasPrefix(op, "iam:") {
			t.Errorf("%s called for a key of another account", op)
		}
	}
}

// A key of another configured account is looked up there, and outputs.account names that
// account for the steps that act on the key.
func TestAWSIAMFindKeyOwnerMovesToTheKeysConfiguredAccount(t *testing.T) {
	_, f := newTestAWS(t)
	cfg := config.AWS{EndpointURL: f.URL, Accounts: map[string]config.AWSAccount{
		"prod":     {AccountID: testProdAccount, RoleARN: testProdRole},
		"security": {AccountID: testSecAccount},
	}}
	a := &AWS{Accounts: func(ctx context.Context) (*fbaws.Accounts, error) { return fbaws.New(ctx, cfg, fbaws.Options{}) }}
	keys := f.AddIAMUser(testSecAccount, awsfake.IAMUser{Name: "bob", Keys: []awsfake.IAMAccessKey{{}}})
	_, res := iamRun(t, f, iamAction(t, a, "aws.iam.find_key_owner"), iamReq("owner", map[string]any{"account": "prod", "access_key_id": keys[0].AccessKeyID}))
	if res.Outputs["in_configured_account"] != true || res.Outputs["account"] != "security" || res.Outputs["user_name"] != "bob" {
		t.Errorf("outputs %v", res.Outputs)
	}
	if got := f.CallsTo("iam", "GetAccessKeyLastUsed"); len(got) != 1 || got[0].Account != testSecAccount {
		t.Errorf("GetAccessKeyLastUsed calls %+v, want one in the security account", got)
	}
}

func TestAWSIAMFindKeyOwnerOfATemporaryKey(t *testing.T) {
	a, f := newTestAWS(t)
	// The responder's own role session key in prod is a temporary (ASIA) key.
	sess, err := a.session(context.Background(), iamReq("x", nil), AWSTarget{})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := sess.Config.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, res := iamRun(t, f, iamAction(t, a, "aws.iam.find_key_owner"), iamReq("owner", map[string]any{"access_key_id": creds.AccessKeyID}))
	if res.Outputs["temporary"] != true || res.Outputs["in_configured_account"] != true || !strings.Contains(res.Summary, "temporary (role session) key") {
		t.Errorf("outputs %v, summary %q", res.Outputs, res.Summary)
	}
}

func TestAWSIAMListAccessKeys(t *testing.T) {
	a, f := newTestAWS(t)
	used := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	keys := f.AddIAMUser(testProdAccount, awsfake.IAMUser{Name: "alice", Keys: []awsfake.IAMAccessKey{
		{LastUsed: &awsfake.AccessKeyUse{Date: used, Service: "ec2", Region: "us-east-1"}}, {Status: "Inactive"}}})
	act := iamAction(t, a, "aws.iam.list_access_keys")
	n := len(f.Calls())
	_, res := iamRun(t, f, act, iamReq("keys", map[string]any{"user_name": "alice"}))
	list, _ := res.Outputs["keys"].([]any)
	if len(list) != 2 || res.Outputs["count"] != 2 || res.Outputs["active"] != 1 {
		t.Fatalf("outputs %v", res.Outputs)
	}
	k0, k1 := list[0].(map[string]any), list[1].(map[string]any)
	if k0["access_key_id"] != keys[0].AccessKeyID || k0["status"] != "Active" || k0["created"] == "" ||
		k0["last_used"].(map[string]any)["date"] != "2026-12-02T08:00:00Z" {
		t.Errorf("first key %v", k0)
	}
	if k1["access_key_id"] != keys[1].AccessKeyID || k1["status"] != "Inactive" || k1["last_used"].(map[string]any)["date"] != "" {
		t.Errorf("second key %v", k1)
	}
	if !strings.Contains(res.Summary, keys[1].AccessKeyID+" Inactive, never used") {
		t.Errorf("summary %q", res.Summary)
	}
	iamCheckPermissions(t, act, iamCallsSince(f, n))

	_, err := act.Execute(context.Background(), iamReq("keys", map[string]any{"user_name": "bob"}))
	iamWantError(t, err, "NoSuchEntity", false)
	if !strings.Contains(err.Error(), "The user with name bob cannot be found.") {
		t.Errorf("error %v lacks AWS's message", err)
	}
}

func TestAWSIAMDeactivateThenReactivateRestoresState(t *testing.T) {
	a, f := newTestAWS(t)
	keys := f.AddIAMUser(testProdAccount, awsfake.IAMUser{Name: "alice", Keys: []awsfake.IAMAccessKey{{}, {}},
		Tags: []awsfake.IAMTag{{Key: "team", Value: "payments"}}})
	key := keys[0].AccessKeyID
	before := f.State()
	deact, react := iamAction(t, a, "aws.iam.deactivate_access_key"), iamAction(t, a, "aws.iam.reactivate_access_key")
	req := iamReq("deactivate", map[string]any{"account": "prod", "user_name": "alice", "access_key_id": key})

	n := len(f.Calls())
	plan, res := iamRun(t, f, deact, req)
	if !strings.Contains(plan.Summary, "Active → Inactive") {
		t.Errorf("plan %q", plan.Summary)
	}
	iamCheckPermissions(t, deact, iamCallsSince(f, n))
	if f.AccessKeyStatus(key) != "Inactive" || f.AccessKeyStatus(keys[1].AccessKeyID) != "Active" {
		t.Fatalf("statuses %s %s", f.AccessKeyStatus(key), f.AccessKeyStatus(keys[1].AccessKeyID))
	}
	if res.Outputs["previous_status"] != "Active" || res.Outputs["changed"] != true || res.Resource != key {
		t.Errorf("result %+v", res)
	}

	// A retry after a lost reply: nothing is done twice and the outputs still say the step
	// deactivated the key, so the rollback reactivates it.
	n = len(f.Calls())
	again, err := deact.Execute(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if again.Outputs["previous_status"] != "Active" || again.Outputs["changed"] != true {
		t.Errorf("retry outputs %v", again.Outputs)
	}
	if c := iamSuccessful(f, n, "iam", "UpdateAccessKey") + iamSuccessful(f, n, "iam", "TagUser"); c != 0 {
		t.Errorf("the retry made %d changes", c)
	}

	n = len(f.Calls())
	_, res = iamRun(t, f, react, iamCompensation(req))
	iamCheckPermissions(t, react, iamCallsSince(f, n))
	if res.Outputs["changed"] != true || res.Outputs["status"] != "Active" {
		t.Errorf("reactivate outputs %v", res.Outputs)
	}
	if !reflect.DeepEqual(before, f.State()) {
		t.Errorf("rollback did not restore the state:\nbefore %+v\nafter  %+v", before.IAM, f.State().IAM)
	}
	// And the compensation is idempotent too.
	if _, err := react.Execute(context.Background(), iamCompensation(req)); err != nil || !reflect.DeepEqual(before, f.State()) {
		t.Errorf("second compensation: %v", err)
	}
}

func TestAWSIAMDeactivateFinishesAfterAFailureBetweenItsCalls(t *testing.T) {
	a, f := newTestAWS(t)
	keys := f.AddIAMUser(testProdAccount, awsfake.IAMUser{Name: "alice", Keys: []awsfake.IAMAccessKey{{}}})
	key := keys[0].AccessKeyID
	before := f.State()
	deact := iamAction(t, a, "aws.iam.deactivate_access_key")
	req := iamReq("deactivate", map[string]any{"user_name": "alice", "access_key_id": key})
	f.Fail("iam", "UpdateAccessKey", &awsfake.Failure{APIError: awsfake.APIError{Status: 500, Code: "ServiceFailure", Message: "boom"}, Times: 1})
	_, err := deact.Execute(context.Background(), req)
	iamWantError(t, err, "ServiceFailure", true)
	if f.AccessKeyStatus(key) != "Active" {
		t.Fatal("key changed by the failed attempt")
	}
	res, err := deact.Execute(context.Background(), req)
	if err != nil || res.Outputs["changed"] != true || f.AccessKeyStatus(key) != "Inactive" {
		t.Fatalf("retry: %v %v", err, res.Outputs)
	}
	if _, err := iamAction(t, a, "aws.iam.reactivate_access_key").Execute(context.Background(), iamCompensation(req)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, f.State()) {
		t.Errorf("rollback did not restore the state:\nbefore %+v\nafter  %+v", before.IAM, f.State().IAM)
	}
}

func TestAWSIAMRollbackLeavesAKeyThatWasInactiveBefore(t *testing.T) {
	a, f := newTestAWS(t)
	keys := f.AddIAMUser(testProdAccount, awsfake.IAMUser{Name: "alice", Keys: []awsfake.IAMAccessKey{{Status: "Inactive"}}})
	before := f.State()
	req := iamReq("deactivate", map[string]any{"user_name": "alice", "access_key_id": keys[0].AccessKeyID})
	n := len(f.Calls())
	plan, res := iamRun(t, f, iamAction(t, a, "aws.iam.deactivate_access_key"), req)
	if !strings.HasPrefix(plan.Summary, "no change") || res.Outputs["changed"] != false || res.Outputs["previous_status"] != "Inactive" {
		t.Errorf("plan %q outputs %v", plan.Summary, res.Outputs)
	}
	_, res = iamRun(t, f, iamAction(t, a, "aws.iam.reactivate_access_key"), iamCompensation(req))
	if res.Outputs["changed"] != false || f.AccessKeyStatus(keys[0].AccessKeyID) != "Inactive" {
		t.Errorf("compensation reactivated a key that was Inactive before: %v", res.Outputs)
	}
	if c := iamSuccessful(f, n, "iam", "UpdateAccessKey") + iamSuccessful(f, n, "iam", "TagUser") + iamSuccessful(f, n, "iam", "UntagUser"); c != 0 || !reflect.DeepEqual(before, f.State()) {
		t.Errorf("%d changes made", c)
	}

	// As a step of its own, reactivation does what it is asked.
	_, res = iamRun(t, f, iamAction(t, a, "aws.iam.reactivate_access_key"), req)
	if res.Outputs["changed"] != true || f.AccessKeyStatus(keys[0].AccessKeyID) != "Active" {
		t.Errorf("standalone reactivation: %v", res.Outputs)
	}
}

func TestAWSIAMUnknownUserOrKeyIsNoSuchEntity(t *testing.T) {
	a, f := newTestAWS(t)
	keys := f.AddIAMUser(testProdAccount, awsfake.IAMUser{Name: "alice", Keys: []awsfake.IAMAccessKey{{}}})
	f.AddIAMUser(testProdAccount, awsfake.IAMUser{Name: "bob"})
	before := f.State()
	ctx := context.Background()
	for _, tc := range []struct{ action, user, key, msg string }{
		{"aws.iam.deactivate_access_key", "carol", keys[0].AccessKeyID, "The user with name carol cannot be found."},
		{"aws.iam.deactivate_access_key", "bob", keys[0].AccessKeyID, "The Access Key with id " + keys[0].AccessKeyID + " cannot be found"},
		{"aws.iam.reactivate_access_key", "carol", keys[0].AccessKeyID, "The user with name carol cannot be found."},
		{"aws.iam.attach_deny_all", "carol", "", "The user with name carol cannot be found."},
		{"aws.iam.disable_console_login", "carol", "", "The user with name carol cannot be found."},
	} {
		with := map[string]any{"user_name": tc.user}
		if tc.key != "" {
			with["access_key_id"] = tc.key
		}
		act := iamAction(t, a, tc.action)
		for _, phase := range []string{"plan", "execute"} {
			var err error
			if phase == "plan" {
				_, err = act.Plan(ctx, iamReq("s", with))
			} else {
				_, err = act.Execute(ctx, iamReq("s", with))
			}
			iamWantError(t, err, "NoSuchEntity", false)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s %s: %v lacks %q", tc.action, phase, err, tc.msg)
			}
		}
	}
	_, err := iamAction(t, a, "aws.iam.revoke_role_sessions").Execute(ctx, iamReq("s", map[string]any{"role_name": "nope"}))
	iamWantError(t, err, "NoSuchEntity", false)
	_, err = iamAction(t, a, "aws.iam.instance_profile_role").Execute(ctx, iamReq("s", map[string]any{"instance_profile_name": "nope"}))
	iamWantError(t, err, "NoSuchEntity", false)
	if !reflect.DeepEqual(before, f.State()) {
		t.Error("a failed step changed the state")
	}
}

func TestAWSIAMBadInputs(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	for _, tc := range []struct {
		action string
		with   map[string]any
	}{
		{"aws.iam.find_key_owner", map[string]any{"access_key_id": "short"}},
		{"aws.iam.find_key_owner", map[string]any{}},
		{"aws.iam.list_access_keys", map[string]any{"user_name": "a b"}},
		{"aws.iam.deactivate_access_key", map[string]any{"user_name": "alice", "access_key_id": "AKIA-not-a-key!!"}},
		{"aws.iam.reactivate_access_key", map[string]any{"user_name": "", "access_key_id": "AKIAFAKE000000000001"}},
		{"aws.iam.attach_deny_all", map[string]any{}},
		{"aws.iam.attach_deny_all", map[string]any{"user_name": "alice", "role_name": "app"}},
		{"aws.iam.detach_deny_all", map[string]any{"role_name": "bad/name"}},
		{"aws.iam.revoke_role_sessions", map[string]any{"role_name": strings.Repeat("r", 65)}},
		{"aws.iam.unrevoke_role_sessions", map[string]any{"role_name": ""}},
		{"aws.iam.disable_console_login", map[string]any{"user_name": "alice", "extra": 1}},
		{"aws.iam.instance_profile_role", map[string]any{}},
		{"aws.iam.instance_profile_role", map[string]any{"instance_profile_arn": "arn:aws:iam::1:role/x"}},
		{"aws.iam.instance_profile_role", map[string]any{"instance_profile_arn": "arn:aws:iam::222222222222:instance-profile/web", "instance_profile_name": "web"}},
	} {
		act := iamAction(t, a, tc.action)
		_, perr := act.Plan(ctx, iamReq("s", tc.with))
		_, eerr := act.Execute(ctx, iamReq("s", tc.with))
		for _, err := range []error{perr, eerr} {
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != ErrBadInput || !app.NonRetryable() {
				t.Errorf("%s %v: got %v, want bad input", tc.action, tc.with, err)
			}
		}
	}
	if len(f.Calls()) != 0 {
		t.Errorf("bad inputs made %d calls", len(f.Calls()))
	}
}

// iamDenyAllDoc is the statement list of a policy, parsed.
func iamStatements(t *testing.T, doc any) []map[string]any {
	t.Helper()
	s, _ := doc.(string)
	var d struct{ Statement []map[string]any }
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatalf("policy %q: %v", s, err)
	}
	return d.Statement
}

func TestAWSIAMDenyAllOnUserAndRoleIsInvertedExactly(t *testing.T) {
	a, f := newTestAWS(t)
	// A same-named policy written by hand, with its own formatting, must come back byte for byte.
	foreign := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Effect\": \"Deny\", \"Action\": \"s3:*\", \"Resource\": \"*\"}\n}"
	f.AddIAMUser(testProdAccount, awsfake.IAMUser{Name: "alice", Policies: map[string]string{"other": `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`}})
	f.AddIAMRole(testProdAccount, awsfake.IAMRole{Name: "app", Policies: map[string]string{"firebreak-deny-all": foreign}})
	attach, detach := iamAction(t, a, "aws.iam.attach_deny_all"), iamAction(t, a, "aws.iam.detach_deny_all")
	var attachOps, detachOps []string

	for _, tc := range []struct {
		with     map[string]any
		policies func() map[string]any
		present  bool
	}{
		{map[string]any{"user_name": "alice"}, func() map[string]any { return iamUserPolicies(f, "alice") }, false},
		{map[string]any{"role_name": "app"}, func() map[string]any { return iamRolePolicies(f, "app") }, true},
	} {
		before := f.State()
		req := iamReq("deny", tc.with)
		n := len(f.Calls())
		plan, res := iamRun(t, f, attach, req)
		attachOps = append(attachOps, iamCallsSince(f, n)...)
		stmts := iamStatements(t, tc.policies()["firebreak-deny-all"])
		last := stmts[len(stmts)-1]
		if last["Effect"] != "Deny" || last["Action"] != "*" || last["Resource"] != "*" || last["Sid"] != res.Outputs["statement_sid"] {
			t.Errorf("%v: statements %v", tc.with, stmts)
		}
		if res.Outputs["previously_present"] != tc.present || (tc.present && res.Outputs["previous_document"] != foreign) {
			t.Errorf("%v: outputs %v", tc.with, res.Outputs)
		}
		if tc.present && len(plan.Changes) != 2 {
			t.Errorf("plan should say the existing policy is saved first: %v", plan.Changes)
		}
		// A retry finds its statement and changes nothing.
		n = len(f.Calls())
		again, err := attach.Execute(context.Background(), req)
		if err != nil || again.Outputs["previous_document"] != res.Outputs["previous_document"] || iamSuccessful(f, n, "iam", "PutUserPolicy")+iamSuccessful(f, n, "iam", "PutRolePolicy") != 0 {
			t.Errorf("retry: %v %v", err, again.Outputs)
		}

		n = len(f.Calls())
		_, res = iamRun(t, f, detach, iamCompensation(req))
		detachOps = append(detachOps, iamCallsSince(f, n)...)
		if res.Outputs["changed"] != true || res.Outputs["removed_statements"] != 1 {
			t.Errorf("detach outputs %v", res.Outputs)
		}
		if !reflect.DeepEqual(before, f.State()) {
			t.Errorf("%v: rollback did not restore the state:\nbefore %+v\nafter  %+v", tc.with, before.IAM, f.State().IAM)
		}
	}

	// Two incidents deny alice: each rollback takes back only its own statement.
	before := f.State()
	reqA, reqB := iamReq("deny", map[string]any{"user_name": "alice"}), iamReq("deny", map[string]any{"user_name": "alice"})
	reqB.IdempotencyKey = "incident-INC-8/run-1/deny"
	for _, r := range []Request{reqA, reqB} {
		if _, err := attach.Execute(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(iamStatements(t, iamUserPolicies(f, "alice")["firebreak-deny-all"])); n != 2 {
		t.Fatalf("%d statements, want one per incident", n)
	}
	n := len(f.Calls())
	if _, err := detach.Execute(context.Background(), iamCompensation(reqA)); err != nil {
		t.Fatal(err)
	}
	detachOps = append(detachOps, iamCallsSince(f, n)...)
	left := iamStatements(t, iamUserPolicies(f, "alice")["firebreak-deny-all"])
	if len(left) != 1 || left[0]["Sid"] != denyAllPolicy.sid(stepMark(reqB)) {
		t.Errorf("after A's rollback: %v", left)
	}
	// A step of its own lifts every Firebreak deny-all.
	if _, err := detach.Execute(context.Background(), iamReq("lift", map[string]any{"user_name": "alice"})); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, f.State()) {
		t.Error("lifting did not restore the state")
	}
	iamCheckPermissions(t, attach, attachOps)
	iamCheckPermissions(t, detach, detachOps)
}

func TestAWSIAMDenyAllTooLargeIsLimitExceededWithNothingChanged(t *testing.T) {
	a, f := newTestAWS(t)
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("b", 1900) + `/*"}]}`
	f.AddIAMUser(testProdAccount, awsfake.IAMUser{Name: "alice", Policies: map[string]string{"big": big}})
	before := f.State()
	_, err := iamAction(t, a, "aws.iam.attach_deny_all").Execute(context.Background(), iamReq("deny", map[string]any{"user_name": "alice"}))
	iamWantError(t, err, "LimitExceeded", false)
	if !reflect.DeepEqual(before, f.State()) {
		t.Error("state changed")
	}
}

func TestAWSIAMRevokeRoleSessionsIsStableAndInvertedExactly(t *testing.T) {
	a, f := newTestAWS(t)
	f.AddIAMRole(testProdAccount, awsfake.IAMRole{Name: "app"})
	revoke, unrevoke := iamAction(t, a, "aws.iam.revoke_role_sessions"), iamAction(t, a, "aws.iam.unrevoke_role_sessions")
	req := iamReq("revoke", map[string]any{"account": "prod", "role_name": "app"})
	start := time.Now().UTC().Truncate(time.Second)
	n := len(f.Calls())
	plan, res := iamRun(t, f, revoke, req)
	iamCheckPermissions(t, revoke, iamCallsSince(f, n))
	if strings.Contains(plan.Summary, start.Format("2006-01-02T")) {
		t.Errorf("the plan names a time, so it would change between approval and run: %q", plan.Summary)
	}
	stmts := iamStatements(t, iamRolePolicies(f, "app")["firebreak-revoke-older-sessions"])
	cond, _ := stmts[0]["Condition"].(map[string]any)
	dlt, _ := cond["DateLessThan"].(map[string]any)
	cutoff, err := time.Parse(time.RFC3339, dlt["aws:TokenIssueTime"].(string))
	if err != nil || cutoff.Before(start) || cutoff.After(time.Now()) || stmts[0]["Effect"] != "Deny" || stmts[0]["Action"] != "*" {
		t.Fatalf("statement %v", stmts[0])
	}
	if res.Outputs["revoked_before"] != dlt["aws:TokenIssueTime"] || res.Resource != "arn:aws:iam::222222222222:role/app" {
		t.Errorf("result %+v", res)
	}

	// A retry keeps the cutoff its step wrote, whenever it runs: plant an older one under the
	// step's Sid and see it read back, with no write.
	old := strings.Replace(iamRolePolicies(f, "app")["firebreak-revoke-older-sessions"].(string), cutoff.Format(time.RFC3339), "2026-01-02T03:04:05Z", 1)
	f.AddIAMRole(testProdAccount, awsfake.IAMRole{Name: "app", Policies: map[string]string{"firebreak-revoke-older-sessions": old}})
	planted := f.State()
	n = len(f.Calls())
	again, err := revoke.Execute(context.Background(), req)
	if err != nil || again.Outputs["revoked_before"] != "2026-01-02T03:04:05Z" || iamSuccessful(f, n, "iam", "PutRolePolicy") != 0 {
		t.Errorf("retry: %v %v", err, again.Outputs)
	}
	if !reflect.DeepEqual(planted, f.State()) {
		t.Error("retry changed the state")
	}
	f.AddIAMRole(testProdAccount, awsfake.IAMRole{Name: "app"}) // a fresh role without the planted policy
	before := f.State()
	if _, err := revoke.Execute(context.Background(), req); err != nil {
		t.Fatal(err)
	}

	// Another incident revokes too; each rollback lifts its own.
	other := iamReq("revoke", map[string]any{"role_name": "app"})
	other.IdempotencyKey = "incident-INC-9/run-1/revoke"
	if _, err := revoke.Execute(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	n = len(f.Calls())
	_, res = iamRun(t, f, unrevoke, iamCompensation(req))
	if res.Outputs["removed_statements"] != 1 || res.Outputs["deleted"] != false {
		t.Errorf("outputs %v", res.Outputs)
	}
	_, res = iamRun(t, f, unrevoke, iamCompensation(other))
	if res.Outputs["deleted"] != true {
		t.Errorf("outputs %v", res.Outputs)
	}
	iamCheckPermissions(t, unrevoke, iamCallsSince(f, n))
	if !reflect.DeepEqual(before, f.State()) {
		t.Error("rollbacks did not restore the state")
	}
}

func TestAWSIAMDisableConsoleLogin(t *testing.T) {
	a, f := newTestAWS(t)
	f.AddIAMUser(testProdAccount, awsfake.IAMUser{Name: "alice", LoginProfile: true})
	act := iamAction(t, a, "aws.iam.disable_console_login")
	if d := act.Spec().Description; !strings.Contains(d, "manual task") || !strings.Contains(d, "cannot be restored") {
		t.Errorf("description does not say the inverse is manual: %q", d)
	}
	n := len(f.Calls())
	plan, res := iamRun(t, f, act, iamReq("console", map[string]any{"user_name": "alice"}))
	iamCheckPermissions(t, act, iamCallsSince(f, n))
	if !strings.Contains(plan.Summary, "cannot be restored") || res.Outputs["changed"] != true || res.Outputs["had_login_profile"] != true {
		t.Errorf("plan %q outputs %v", plan.Summary, res.Outputs)
	}
	users := iamProd(f)["Users"].(map[string]any)
	if lp := users["alice"].(map[string]any)["LoginProfile"]; lp != nil {
		t.Errorf("login profile still there: %v", lp)
	}
	after := f.State()
	plan, res = iamRun(t, f, act, iamReq("console", map[string]any{"user_name": "alice"}))
	if !strings.HasPrefix(plan.Summary, "no change") || res.Outputs["changed"] != false || !reflect.DeepEqual(after, f.State()) {
		t.Errorf("second run: plan %q outputs %v", plan.Summary, res.Outputs)
	}
}

func TestAWSIAMInstanceProfileRole(t *testing.T) {
	a, f := newTestAWS(t)
	roleARN := f.AddIAMRole(testProdAccount, awsfake.IAMRole{Name: "web-role", Path: "/ec2/"})
	arn := f.AddInstanceProfile(testProdAccount, "web", "web-role")
	f.AddInstanceProfile(testProdAccount, "empty", "")
	act := iamAction(t, a, "aws.iam.instance_profile_role")
	n := len(f.Calls())
	for _, with := range []map[string]any{{"instance_profile_arn": arn}, {"instance_profile_name": "web"}} {
		_, res := iamRun(t, f, act, iamReq("role", with))
		want := map[string]any{"instance_profile_name": "web", "instance_profile_arn": arn, "role_name": "web-role", "role_arn": roleARN, "has_role": true}
		if !reflect.DeepEqual(res.Outputs, want) {
			t.Errorf("%v: outputs %v", with, res.Outputs)
		}
	}
	iamCheckPermissions(t, act, iamCallsSince(f, n))
	_, res := iamRun(t, f, act, iamReq("role", map[string]any{"instance_profile_name": "empty"}))
	if res.Outputs["has_role"] != false || !strings.Contains(res.Summary, "has no role") {
		t.Errorf("outputs %v summary %q", res.Outputs, res.Summary)
	}
}

func TestAWSIAMThrottledActionsApplyEachChangeOnce(t *testing.T) {
	a, f := newTestAWS(t)
	keys := f.AddIAMUser(testProdAccount, awsfake.IAMUser{Name: "alice", Keys: []awsfake.IAMAccessKey{{}}, LoginProfile: true})
	f.AddIAMRole(testProdAccount, awsfake.IAMRole{Name: "app"})
	before := f.State()
	f.Throttle(0.3)
	n := len(f.Calls())
	ctx := context.Background()
	steps := []struct {
		action, inverse string
		with            map[string]any
	}{
		{"aws.iam.deactivate_access_key", "aws.iam.reactivate_access_key", map[string]any{"user_name": "alice", "access_key_id": keys[0].AccessKeyID}},
		{"aws.iam.attach_deny_all", "aws.iam.detach_deny_all", map[string]any{"user_name": "alice"}},
		{"aws.iam.revoke_role_sessions", "aws.iam.unrevoke_role_sessions", map[string]any{"role_name": "app"}},
	}
	for _, s := range steps {
		if _, err := iamAction(t, a, s.action).Execute(ctx, iamReq(s.action, s.with)); err != nil {
			t.Fatalf("%s: %v", s.action, err)
		}
	}
	for op, want := range map[string]int{"UpdateAccessKey": 1, "TagUser": 1, "PutUserPolicy": 1, "PutRolePolicy": 1} {
		if got := iamSuccessful(f, n, "iam", op); got != want {
			t.Errorf("%s applied %d times, want %d", op, got, want)
		}
	}
	m := len(f.Calls())
	for _, s := range slices.Backward(steps) {
		if _, err := iamAction(t, a, s.inverse).Execute(ctx, iamCompensation(iamReq(s.action, s.with))); err != nil {
			t.Fatalf("%s: %v", s.inverse, err)
		}
	}
	for op, want := range map[string]int{"UpdateAccessKey": 1, "UntagUser": 1, "DeleteUserPolicy": 1, "DeleteRolePolicy": 1} {
		if got := iamSuccessful(f, m, "iam", op); got != want {
			t.Errorf("rollback: %s applied %d times, want %d", op, got, want)
		}
	}
	if !reflect.DeepEqual(before, f.State()) {
		t.Errorf("rollback did not restore the state:\nbefore %+v\nafter  %+v", before.IAM, f.State().IAM)
	}
	if _, err := iamAction(t, a, "aws.iam.disable_console_login").Execute(ctx, iamReq("console", map[string]any{"user_name": "alice"})); err != nil {
		t.Fatal(err)
	}
	if got := iamSuccessful(f, n, "iam", "DeleteLoginProfile"); got != 1 {
		t.Errorf("DeleteLoginProfile applied %d times", got)
	}
	throttled := 0
	for _, c := range f.Calls()[n:] {
		if c.ErrorCode == "Throttling" {
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("nothing was throttled")
	}
}

// A user's session revocation is the same deny on the user; two incidents' revocations are each
// lifted by their own inverse, exactly, with only user permissions.
func TestAWSIAMRevokeUserSessionsInvertedExactly(t *testing.T) {
	a, f := newTestAWS(t)
	f.AddIAMUser(testProdAccount, awsfake.IAMUser{Name: "leaky", Keys: []awsfake.IAMAccessKey{{}}})
	revoke, unrevoke := iamAction(t, a, "aws.iam.revoke_user_sessions"), iamAction(t, a, "aws.iam.unrevoke_user_sessions")
	before := f.State()
	req := iamReq("revoke", map[string]any{"account": "prod", "user_name": "leaky"})
	other := req
	other.IdempotencyKey = "incident-INC-9/run-1/revoke"
	n := len(f.Calls())
	_, res := iamRun(t, f, revoke, req)
	if _, err := revoke.Execute(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	iamCheckPermissions(t, revoke, iamCallsSince(f, n))
	stmts := iamStatements(t, iamUserPolicies(f, "leaky")["firebreak-revoke-older-sessions"])
	if len(stmts) != 2 || stmts[0]["Effect"] != "Deny" || res.Outputs["user_name"] != "leaky" || res.Resource != "arn:aws:iam::222222222222:user/leaky" {
		t.Fatalf("statements %v, result %+v", stmts, res)
	}
	n = len(f.Calls())
	for _, r := range []Request{req, other} {
		r.IdempotencyKey += "/compensate"
		if _, err := unrevoke.Execute(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	iamCheckPermissions(t, unrevoke, iamCallsSince(f, n))
	if !reflect.DeepEqual(before, f.State()) {
		t.Errorf("unrevoke did not restore the state:\nbefore %v\nafter  %v", before.IAM, f.State().IAM)
	}
}
