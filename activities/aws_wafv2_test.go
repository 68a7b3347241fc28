package activities

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
	"github.com/firebreak-ir/firebreak/integrations/config"
)

// wafAction returns the named aws.wafv2 action run by a.
func wafAction(t *testing.T, a *AWS, name string) Action {
	t.Helper()
	return wafSSMAction(t, a.wafv2Actions(), name)
}

// wafSSMAction returns the action called name among actions.
func wafSSMAction(t *testing.T, actions []Action, name string) Action {
	t.Helper()
	for _, act := range actions {
		if act.Spec().Name == name {
			return act
		}
	}
	t.Fatalf("no action %s", name)
	return nil
}

func wafReq(step string, with map[string]any) Request {
	return Request{IdempotencyKey: "incident-INC-1/run/" + step, Incident: "INC-1", WorkflowID: "incident-INC-1", StepID: step, Attempt: 1, With: with}
}

func wafWith(arn string, addresses ...string) map[string]any {
	return map[string]any{"account": "prod", "ip_set": map[string]any{"arn": arn}, "addresses": addresses}
}

// wafWantAddresses checks the IP set's content in the fake.
func wafWantAddresses(t *testing.T, f *awsfake.Server, arn string, want ...string) {
	t.Helper()
	set, ok := f.State().WAFv2.(map[string]awsfake.WAFIPSet)[arn]
	if !ok {
		t.Fatalf("no IP set %s in the fake", arn)
	}
	if !slices.Equal(set.Addresses, want) {
		t.Errorf("set holds %v, want %v", set.Addresses, want)
	}
}

func wafStrings(t *testing.T, v any) []string {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("output %#v is not a list", v)
	}
	out := []string{}
	for _, x := range list {
		out = append(out, x.(string))
	}
	return out
}

// wafAppErr asserts err is an application error of type typ and returns it.
func wafAppErr(t *testing.T, err error, typ string, nonRetryable bool) *temporal.ApplicationError {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		t.Fatalf("got %v, want an application error %s", err, typ)
	}
	if app.Type() != typ || app.NonRetryable() != nonRetryable {
		t.Fatalf("got type %q non-retryable %v (%v), want %q non-retryable %v", app.Type(), app.NonRetryable(), err, typ, nonRetryable)
	}
	return app
}

func wafCalls(f *awsfake.Server) int {
	n := 0
	for _, c := range f.Calls() {
		if c.Service == "wafv2" {
			n++
		}
	}
	return n
}

func TestWAFBlockThenUnblockRestoresTheExactState(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	_, arn := f.AddIPSet(testProdAccount, "eu-west-1", "REGIONAL", "attackers", "IPV4", "192.0.2.1/32", "192.0.2.128/25")
	before := f.State()
	block, unblock := wafAction(t, a, "aws.wafv2.block_ips"), wafAction(t, a, "aws.wafv2.unblock_ips")

	with := wafWith(arn, "203.0.113.7", "198.51.100.0/24", "192.0.2.1", "203.0.113.7/32")
	plan, err := block.Plan(ctx, wafReq("block", with))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.State(), before) {
		t.Fatal("plan changed the fake's state")
	}
	wantChanges := []string{"add 203.0.113.7/32 to attackers", "add 198.51.100.0/24 to attackers", "already in attackers: 192.0.2.1/32 (no change)"}
	if !slices.Equal(plan.Changes, wantChanges) || !strings.Contains(plan.Summary, "add 203.0.113.7/32, 198.51.100.0/24 to IP set attackers (REGIONAL, eu-west-1)") {
		t.Errorf("plan %+v", plan)
	}

	res, err := block.Execute(ctx, wafReq("block", with))
	if err != nil {
		t.Fatal(err)
	}
	if got := wafStrings(t, res.Outputs["added"]); !slices.Equal(got, []string{"203.0.113.7/32", "198.51.100.0/24"}) {
		t.Errorf("added %v", got)
	}
	if got := wafStrings(t, res.Outputs["already_present"]); !slices.Equal(got, []string{"192.0.2.1/32"}) {
		t.Errorf("already_present %v", got)
	}
	if res.Resource != arn || res.Outputs["ip_set_arn"] != arn || len(res.RequestIDs) == 0 {
		t.Errorf("resource %q, outputs %v, request IDs %v", res.Resource, res.Outputs, res.RequestIDs)
	}
	wafWantAddresses(t, f, arn, "192.0.2.1/32", "192.0.2.128/25", "203.0.113.7/32", "198.51.100.0/24")

	// The same step again (a retry) finds everything there and does not update.
	updates := len(f.CallsTo("wafv2", "UpdateIPSet"))
	again, err := block.Execute(ctx, wafReq("block", with))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.CallsTo("wafv2", "UpdateIPSet")); n != updates {
		t.Errorf("a block of present addresses called UpdateIPSet (%d calls, was %d)", n, updates)
	}
	if got := wafStrings(t, again.Outputs["added"]); len(got) != 0 || !strings.HasPrefix(again.Summary, "no change") {
		t.Errorf("second block: added %v, summary %q", got, again.Summary)
	}

	// Undo with what the block added: the set is back as it was, entry for entry, description too.
	res, err = unblock.Execute(ctx, wafReq("unblock", map[string]any{"account": "prod", "ip_set": map[string]any{"arn": arn}, "addresses": res.Outputs["added"]}))
	if err != nil {
		t.Fatal(err)
	}
	if got := wafStrings(t, res.Outputs["removed"]); !slices.Equal(got, []string{"203.0.113.7/32", "198.51.100.0/24"}) {
		t.Errorf("removed %v", got)
	}
	if after := f.State(); !reflect.DeepEqual(after, before) {
		t.Errorf("state after unblock %+v, want %+v", after.WAFv2, before.WAFv2)
	}

	// Unblocking absent addresses is a no-op, and so is an empty list (a block that added nothing).
	updates = len(f.CallsTo("wafv2", "UpdateIPSet"))
	if res, err = unblock.Execute(ctx, wafReq("unblock", wafWith(arn, "203.0.113.7"))); err != nil || !strings.HasPrefix(res.Summary, "no change") {
		t.Errorf("unblock of an absent address: %v %q", err, res.Summary)
	}
	calls := wafCalls(f)
	if res, err = unblock.Execute(ctx, wafReq("unblock", wafWith(arn))); err != nil || wafCalls(f) != calls {
		t.Errorf("unblock of nothing: %v, %d WAF calls made", err, wafCalls(f)-calls)
	}
	if n := len(f.CallsTo("wafv2", "UpdateIPSet")); n != updates {
		t.Errorf("no-op unblocks called UpdateIPSet %d times", n-updates)
	}
}

func TestWAFRefusesNeverBlockAndMaxWithNothingApplied(t *testing.T) {
	a, f := newTestAWS(t)
	a.WAFv2 = config.WAFv2{MaxBlock: 3, NeverBlock: []string{"10.0.0.0/8", "2001:db8::/32", "198.51.100.10"}}
	ctx := context.Background()
	_, arn := f.AddIPSet(testProdAccount, "eu-west-1", "REGIONAL", "attackers", "IPV4")
	before := f.State()
	block := wafAction(t, a, "aws.wafv2.block_ips")
	for _, tc := range []struct {
		addresses []string
		want      []string
	}{
		{[]string{"203.0.113.7", "10.1.2.3"}, []string{"10.1.2.3/32 overlaps 10.0.0.0/8", "nothing was blocked"}},
		{[]string{"198.51.100.0/24"}, []string{"198.51.100.0/24 overlaps 198.51.100.10/32"}},
		{[]string{"0.0.0.0/1"}, []string{"0.0.0.0/1 overlaps 10.0.0.0/8"}},
		{[]string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"}, []string{"4 addresses, more than aws.wafv2.max_block (3)", "nothing was blocked"}},
	} {
		for _, phase := range []string{"plan", "execute"} {
			var err error
			if phase == "plan" {
				_, err = block.Plan(ctx, wafReq("block", wafWith(arn, tc.addresses...)))
			} else {
				_, err = block.Execute(ctx, wafReq("block", wafWith(arn, tc.addresses...)))
			}
			app := wafAppErr(t, err, ErrBadInput, true)
			for _, w := range tc.want {
				if !strings.Contains(app.Error(), w) {
					t.Errorf("%s %v: %q lacks %q", phase, tc.addresses, app.Error(), w)
				}
			}
		}
	}
	if n := wafCalls(f); n != 0 {
		t.Errorf("refused blocks made %d WAF calls", n)
	}
	if !reflect.DeepEqual(f.State(), before) {
		t.Error("a refused block changed the fake's state")
	}
	// The default bound applies when max_block is unset.
	a.WAFv2 = config.WAFv2{}
	many := make([]string, 0, config.DefaultWAFMaxBlock+1)
	for i := range config.DefaultWAFMaxBlock + 1 {
		many = append(many, fmt.Sprintf("100.64.%d.%d", i/256, i%256))
	}
	_, err := block.Execute(ctx, wafReq("block", wafWith(arn, many...)))
	wafAppErr(t, err, ErrBadInput, true)
	// Unblocking is never limited by the allow-list: removing an entry cannot cut anyone off.
	if _, err := wafAction(t, a, "aws.wafv2.unblock_ips").Execute(ctx, wafReq("unblock", wafWith(arn, "10.1.2.3"))); err != nil {
		t.Errorf("unblock: %v", err)
	}
}

func TestWAFRereadsAndRetriesWhenTheLockTokenChanges(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	_, arn := f.AddIPSet(testProdAccount, "eu-west-1", "REGIONAL", "attackers", "IPV4", "192.0.2.1/32")
	// Another writer adds an address (one we also want) between our read and our update.
	f.WAFv2ConcurrentUpdate(arn, "198.51.100.99/32", "203.0.113.8/32")
	res, err := wafAction(t, a, "aws.wafv2.block_ips").Execute(ctx, wafReq("block", wafWith(arn, "203.0.113.7", "203.0.113.8")))
	if err != nil {
		t.Fatal(err)
	}
	updates := f.CallsTo("wafv2", "UpdateIPSet")
	if len(updates) != 2 || updates[0].ErrorCode != "WAFOptimisticLockException" || updates[1].ErrorCode != "" {
		t.Fatalf("updates %+v, want a stale-token failure then a success", updates)
	}
	if n := len(f.CallsTo("wafv2", "GetIPSet")); n != 2 {
		t.Errorf("%d GetIPSet calls, want 2 (a re-read after the lock failure)", n)
	}
	// The other writer's entries survive, and the one it added is not ours to undo.
	wafWantAddresses(t, f, arn, "192.0.2.1/32", "198.51.100.99/32", "203.0.113.8/32", "203.0.113.7/32")
	if got := wafStrings(t, res.Outputs["added"]); !slices.Equal(got, []string{"203.0.113.7/32"}) {
		t.Errorf("added %v, want only what this step added", got)
	}

	// A set that keeps changing: bounded attempts, then a retryable failure for Temporal.
	f.Fail("wafv2", "UpdateIPSet", &awsfake.Failure{APIError: awsfake.APIError{Code: "WAFOptimisticLockException", Message: "changed"}})
	_, err = wafAction(t, a, "aws.wafv2.block_ips").Execute(ctx, wafReq("block2", wafWith(arn, "203.0.113.9")))
	app := wafAppErr(t, err, "WAFOptimisticLockException", false)
	if !strings.Contains(app.Error(), fmt.Sprintf("each of %d attempts", wafLockAttempts)) {
		t.Errorf("error %q", app.Error())
	}
	if n := len(f.CallsTo("wafv2", "UpdateIPSet")); n != 2+wafLockAttempts {
		t.Errorf("%d UpdateIPSet calls, want %d", n, 2+wafLockAttempts)
	}
}

func TestWAFValidatesAndNormalisesAddresses(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	_, v4 := f.AddIPSet(testProdAccount, "eu-west-1", "REGIONAL", "v4", "IPV4", "192.0.2.1/32")
	_, v6 := f.AddIPSet(testProdAccount, "eu-west-1", "REGIONAL", "v6", "IPV6", "2001:DB8::1/128")
	before := f.State()
	block := wafAction(t, a, "aws.wafv2.block_ips")
	for _, tc := range []struct {
		arn       string
		addresses []string
		want      string
	}{
		{v4, []string{"203.0.113.7", "2001:db8::5"}, "2001:db8::5/128 is IPv6, but IP set v4 holds IPV4 addresses"},
		{v6, []string{"2001:db8::5", "203.0.113.7/32"}, "203.0.113.7/32 is IPv4, but IP set v6 holds IPV6 addresses"},
		{v4, []string{"attacker.example"}, `"attacker.example" is not an IP address or CIDR`},
		{v4, []string{"203.0.113.7/24"}, `"203.0.113.7/24" has host bits set: write 203.0.113.0/24 for the range or 203.0.113.7/32 for the address`},
		{v4, []string{"0.0.0.0/0"}, `"0.0.0.0/0" is every address`},
		{v6, []string{"::ffff:203.0.113.7"}, `is an IPv4 address written as IPv6: write 203.0.113.7/32`},
		{v6, []string{"fe80::1%eth0"}, `"fe80::1%eth0" is not an IP address or CIDR`},
	} {
		_, err := block.Execute(ctx, wafReq("block", wafWith(tc.arn, tc.addresses...)))
		app := wafAppErr(t, err, ErrBadInput, true)
		if !strings.Contains(app.Error(), tc.want) {
			t.Errorf("%v: %q lacks %q", tc.addresses, app.Error(), tc.want)
		}
	}
	if n := len(f.CallsTo("wafv2", "UpdateIPSet")); n != 0 || !reflect.DeepEqual(f.State(), before) {
		t.Errorf("refused blocks made %d updates or changed state", n)
	}
	// IPv6 is compared as addresses, not spellings: 2001:DB8::1/128 is already there.
	res, err := block.Execute(ctx, wafReq("block", wafWith(v6, "2001:db8::1", "2001:DB8:0:0::2")))
	if err != nil {
		t.Fatal(err)
	}
	if got := wafStrings(t, res.Outputs["added"]); !slices.Equal(got, []string{"2001:db8::2/128"}) {
		t.Errorf("added %v", got)
	}
	wafWantAddresses(t, f, v6, "2001:DB8::1/128", "2001:db8::2/128")
}

func TestWAFInputsNameTheSetClearly(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	id, arn := f.AddIPSet(testProdAccount, "eu-west-1", "REGIONAL", "attackers", "IPV4")
	block := wafAction(t, a, "aws.wafv2.block_ips")
	for _, tc := range []struct {
		with map[string]any
		want string
	}{
		{map[string]any{"ip_set": map[string]any{"name": "attackers"}, "addresses": []string{"203.0.113.7"}}, "ip_set: give its name and id, or its arn"},
		{map[string]any{"ip_set": map[string]any{"arn": arn, "name": "attackers"}, "addresses": []string{"203.0.113.7"}}, "not both"},
		{map[string]any{"ip_set": map[string]any{"arn": "arn:aws:wafv2:eu-west-1:222222222222:regional/webacl/x/y"}, "addresses": []string{"203.0.113.7"}}, "is not a WAFv2 IP set ARN"},
		{map[string]any{"ip_set": map[string]any{"arn": arn}, "scope": "CLOUDFRONT", "addresses": []string{"203.0.113.7"}}, "scope: CLOUDFRONT, but ip_set.arn is a REGIONAL set"},
		{map[string]any{"ip_set": map[string]any{"arn": arn}, "region": "us-west-2", "addresses": []string{"203.0.113.7"}}, "region: us-west-2, but ip_set.arn is in eu-west-1"},
		{map[string]any{"ip_set": map[string]any{"name": "attackers", "id": id}, "scope": "CLOUDFRONT", "region": "eu-west-1", "addresses": []string{"203.0.113.7"}}, "CloudFront IP sets are in us-east-1"},
		{map[string]any{"ip_set": map[string]any{"name": "attackers", "id": id}, "scope": "GLOBAL", "addresses": []string{"203.0.113.7"}}, `scope: "GLOBAL", want REGIONAL or CLOUDFRONT`},
	} {
		_, err := block.Plan(ctx, wafReq("block", tc.with))
		if app := wafAppErr(t, err, ErrBadInput, true); !strings.Contains(app.Error(), tc.want) {
			t.Errorf("%v: %q lacks %q", tc.with, app.Error(), tc.want)
		}
	}
	// Name and id with the default scope and the account's region work as well as the ARN.
	res, err := block.Execute(ctx, wafReq("block", map[string]any{"ip_set": map[string]any{"name": "attackers", "id": id}, "addresses": []string{"203.0.113.7"}}))
	if err != nil || res.Resource != arn {
		t.Fatalf("block by name and id: %v, resource %q", err, res.Resource)
	}
}

func TestWAFCloudFrontSetsAreInUSEast1(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	id, arn := f.AddIPSet(testProdAccount, "", "CLOUDFRONT", "edge", "IPV4")
	block := wafAction(t, a, "aws.wafv2.block_ips")
	if _, err := block.Execute(ctx, wafReq("block", map[string]any{"ip_set": map[string]any{"name": "edge", "id": id}, "scope": "CLOUDFRONT", "addresses": []string{"203.0.113.7"}})); err != nil {
		t.Fatal(err)
	}
	if _, err := block.Execute(ctx, wafReq("block", wafWith(arn, "203.0.113.8"))); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.CallsTo("wafv2", "GetIPSet") {
		if c.Region != "us-east-1" {
			t.Errorf("call in %s, want us-east-1", c.Region)
		}
	}
	wafWantAddresses(t, f, arn, "203.0.113.7/32", "203.0.113.8/32")
}

func TestWAFUnknownIPSetFailsWithAWSCode(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	_, arn := f.AddIPSet(testProdAccount, "eu-west-1", "REGIONAL", "attackers", "IPV4")
	before := f.State()
	missing := strings.Replace(arn, "/ipset/attackers/", "/ipset/gone/", 1)
	for _, name := range []string{"aws.wafv2.block_ips", "aws.wafv2.unblock_ips"} {
		_, err := wafAction(t, a, name).Execute(ctx, wafReq("block", wafWith(missing, "203.0.113.7")))
		app := wafAppErr(t, err, "WAFNonexistentItemException", true)
		if !strings.Contains(app.Error(), "doesn’t exist") || !strings.Contains(app.Error(), "(request fa4e") {
			t.Errorf("%s: %q lacks AWS's message or request ID", name, app.Error())
		}
	}
	if !reflect.DeepEqual(f.State(), before) {
		t.Error("state changed")
	}
}

func TestWAFThrottledCallsStillApplyOnce(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	_, arn := f.AddIPSet(testProdAccount, "eu-west-1", "REGIONAL", "attackers", "IPV4", "192.0.2.1/32")
	before := f.State()
	f.Throttle(0.3)
	res, err := wafAction(t, a, "aws.wafv2.block_ips").Execute(ctx, wafReq("block", wafWith(arn, "203.0.113.7", "203.0.113.8")))
	if err != nil {
		t.Fatal(err)
	}
	wafWantAddresses(t, f, arn, "192.0.2.1/32", "203.0.113.7/32", "203.0.113.8/32")
	if _, err := wafAction(t, a, "aws.wafv2.unblock_ips").Execute(ctx, wafReq("unblock", map[string]any{"account": "prod", "ip_set": map[string]any{"arn": arn}, "addresses": res.Outputs["added"]})); err != nil {
		t.Fatal(err)
	}
	var ok, throttled int
	for _, c := range f.CallsTo("wafv2", "UpdateIPSet") {
		switch c.ErrorCode {
		case "":
			ok++
		case "ThrottlingException":
			throttled++
		default:
			t.Errorf("UpdateIPSet failed with %s", c.ErrorCode)
		}
	}
	if ok != 2 || throttled+len(f.CallsTo("wafv2", "GetIPSet")) < 3 {
		t.Errorf("%d successful updates (want 2, one per step), %d throttled", ok, throttled)
	}
	if !reflect.DeepEqual(f.State(), before) {
		t.Errorf("state after block and unblock %+v, want %+v", f.State().WAFv2, before.WAFv2)
	}
}

func TestWAFPermissionsAreWhatPlanAndExecuteCall(t *testing.T) {
	for _, name := range []string{"aws.wafv2.block_ips", "aws.wafv2.unblock_ips"} {
		t.Run(name, func(t *testing.T) {
			a, f := newTestAWS(t)
			ctx := context.Background()
			_, arn := f.AddIPSet(testProdAccount, "eu-west-1", "REGIONAL", "attackers", "IPV4", "192.0.2.1/32")
			act := wafAction(t, a, name)
			req := wafReq("s", wafWith(arn, "192.0.2.1", "203.0.113.7"))
			if _, err := act.Plan(ctx, req); err != nil {
				t.Fatal(err)
			}
			if _, err := act.Execute(ctx, req); err != nil {
				t.Fatal(err)
			}
			wafSSMCheckIAM(t, act, f)
		})
	}
}

// wafSSMCheckIAM checks that act declares exactly the IAM actions the fake saw
// (sts:AssumeRole is the base identity's, not the action's).
func wafSSMCheckIAM(t *testing.T, act Action, f *awsfake.Server) {
	t.Helper()
	declared := map[string]bool{}
	for _, p := range act.Spec().Permissions.IAM {
		declared[p.Action] = true
		if p.Resource == "" {
			t.Errorf("%s has no resource", p.Action)
		}
	}
	called := map[string]bool{}
	for _, c := range f.Calls() {
		if op := c.Service + ":" + c.Operation; op != "sts:AssumeRole" {
			called[op] = true
		}
	}
	keys := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	if !reflect.DeepEqual(keys(declared), keys(called)) {
		t.Errorf("declared %v, called %v", keys(declared), keys(called))
	}
}
