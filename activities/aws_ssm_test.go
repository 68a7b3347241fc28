package activities

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
)

func ssmID(n int) string { return fmt.Sprintf("i-%017x", n) }

func ssmAction(t *testing.T, a *AWS, name string) Action {
	t.Helper()
	return wafSSMAction(t, a.ssmActions(), name)
}

// ssmFleet registers managed instances 1..n in prod's eu-west-1, tagged Fleet=web.
func ssmFleet(f *awsfake.Server, n int) {
	for i := 1; i <= n; i++ {
		f.AddManagedInstance(testProdAccount, "eu-west-1", ssmID(i), map[string]string{"Fleet": "web"})
	}
}

func ssmCommands(f *awsfake.Server) []awsfake.SSMCommand {
	return reflect.ValueOf(f.State().SSM).FieldByName("Commands").Interface().([]awsfake.SSMCommand)
}

func ssmInstanceOut(t *testing.T, res Result, id string) map[string]any {
	t.Helper()
	out, ok := res.Outputs["instances"].(map[string]any)[id].(map[string]any)
	if !ok {
		t.Fatalf("no output for %s in %v", id, res.Outputs["instances"])
	}
	return out
}

func TestSSMPatchReportsEachInstanceAndItsCounts(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	ssmFleet(f, 3)
	f.SetCommandOutcome(ssmID(1), awsfake.CommandOutcome{Installed: 4, NotApplicable: 120})
	f.SetCommandOutcome(ssmID(2), awsfake.CommandOutcome{Installed: 1, NotApplicable: 80, Missing: 0})
	f.SetCommandOutcome(ssmID(3), awsfake.CommandOutcome{Status: "Failed", Installed: 2, Failed: 3, NotApplicable: 90})
	act := ssmAction(t, a, "aws.ssm.run_patch_baseline")
	req := wafReq("patch", map[string]any{"account": "prod", "instance_ids": []string{ssmID(1), ssmID(2), ssmID(3)},
		"max_concurrency": "2", "max_errors": "1", "reboot_option": "NoReboot"})

	before := f.State()
	plan, err := act.Plan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.State(), before) {
		t.Error("plan changed the fake's state")
	}
	want := fmt.Sprintf("run AWS-RunPatchBaseline (Install, NoReboot) on 3 SSM-managed instances in eu-west-1 (max_concurrency 2, max_errors 1): %s, %s, %s", ssmID(1), ssmID(2), ssmID(3))
	if plan.Summary != want || len(plan.Changes) != 3 {
		t.Errorf("plan %+v\nwant summary %q", plan, want)
	}

	res, err := act.Execute(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := ssmInstanceOut(t, res, ssmID(1)); got["status"] != "Success" || got["installed"] != 4 || got["not_applicable"] != 120 || got["failed"] != 0 {
		t.Errorf("%s: %v", ssmID(1), got)
	}
	// A failed instance within max_errors: the step succeeds and says which one failed.
	if got := ssmInstanceOut(t, res, ssmID(3)); got["status"] != "Failed" || got["failed"] != 3 || got["installed"] != 2 {
		t.Errorf("%s: %v", ssmID(3), got)
	}
	if !reflect.DeepEqual(res.Outputs["not_succeeded"], []any{ssmID(3)}) || !reflect.DeepEqual(res.Outputs["succeeded"], []any{ssmID(1), ssmID(2)}) {
		t.Errorf("outputs %v", res.Outputs)
	}
	if res.Outputs["status_details"] != "Incomplete" || !strings.Contains(res.Summary, "patches installed: 7, failed: 3 (counts from 3 of 3 instances)") {
		t.Errorf("status %v, summary %q", res.Outputs["status_details"], res.Summary)
	}
	cmds := ssmCommands(f)
	if len(cmds) != 1 || cmds[0].Document != "AWS-RunPatchBaseline" || !reflect.DeepEqual(cmds[0].Parameters, map[string][]string{"Operation": {"Install"}, "RebootOption": {"NoReboot"}}) {
		t.Errorf("commands %+v", cmds)
	}
	if res.Resource != cmds[0].ID || res.Outputs["command_id"] != cmds[0].ID || len(res.RequestIDs) == 0 {
		t.Errorf("resource %q, request IDs %v", res.Resource, res.RequestIDs)
	}
}

func TestSSMPatchCanaryThenTheRestStopsAtMaxErrors(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	ssmFleet(f, 4)
	f.SetCommandOutcome(ssmID(3), awsfake.CommandOutcome{Status: "Failed", Output: "yum: cannot reach repository"})
	act := ssmAction(t, a, "aws.ssm.run_patch_baseline")

	// The canary batch: one instance by ID.
	canary, err := act.Execute(ctx, wafReq("canary", map[string]any{"account": "prod", "instance_ids": []string{ssmID(1)}}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(canary.Outputs["succeeded"], []any{ssmID(1)}) {
		t.Fatalf("canary %v", canary.Outputs)
	}
	// The rest of the fleet by tag, one at a time, no failure tolerated: SSM stops at the first.
	rest := wafReq("rest", map[string]any{"account": "prod", "tag": map[string]any{"key": "Fleet", "values": []string{"web"}},
		"max_concurrency": "1", "max_errors": "0"})
	plan, err := act.Plan(ctx, rest)
	if err != nil || !strings.Contains(plan.Summary, "on 4 SSM-managed instances tagged Fleet=web in eu-west-1 (max_concurrency 1, max_errors 0)") {
		t.Fatalf("plan %+v %v", plan, err)
	}
	_, err = act.Execute(ctx, rest)
	app := wafAppErr(t, err, ErrSSMMaxErrors, true)
	for _, w := range []string{
		"succeeded: " + ssmID(1) + ", " + ssmID(2) + ";",
		"failed: " + ssmID(3) + " (Failed)",
		"not run: " + ssmID(4),
		"max_errors 0",
	} {
		if !strings.Contains(app.Error(), w) {
			t.Errorf("error %q lacks %q", app.Error(), w)
		}
	}
	cmds := ssmCommands(f)
	if len(cmds) != 2 || cmds[1].Status != "Failed" || cmds[1].Invocations[ssmID(4)] != "Cancelled" || cmds[1].Invocations[ssmID(2)] != "Success" {
		t.Errorf("commands %+v", cmds)
	}
}

func TestSSMRetriedPatchDoesNotSendASecondCommand(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	ssmFleet(f, 2)
	act := ssmAction(t, a, "aws.ssm.run_patch_baseline")
	req := wafReq("patch", map[string]any{"account": "prod", "instance_ids": []string{ssmID(1), ssmID(2)}, "operation": "Scan"})
	// The first attempt sends the command and then fails before it can read the results.
	f.Fail("ssm", "ListCommandInvocations", &awsfake.Failure{APIError: awsfake.APIError{Status: 500, Code: "InternalServerError", Message: "boom"}, Times: 1})
	_, err := act.Execute(ctx, req)
	wafAppErr(t, err, "InternalServerError", false)
	// Another command for another step in between must not be mistaken for ours.
	if _, err := act.Execute(ctx, wafReq("other", map[string]any{"account": "prod", "instance_ids": []string{ssmID(2)}, "operation": "Scan"})); err != nil {
		t.Fatal(err)
	}
	req.Attempt = 2
	res, err := act.Execute(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.CallsTo("ssm", "SendCommand")); n != 2 {
		t.Errorf("%d SendCommand calls, want 2 (one per step)", n)
	}
	cmds := ssmCommands(f)
	if res.Outputs["command_id"] != cmds[0].ID || len(ssmInstanceOut(t, res, ssmID(1))) == 0 {
		t.Errorf("retry followed %v, want the first command %s", res.Outputs["command_id"], cmds[0].ID)
	}
	if !strings.HasPrefix(cmds[0].Comment, ssmCommentPrefix) || len(cmds[0].Comment) > 100 || strings.Contains(cmds[0].Comment, req.IdempotencyKey) {
		t.Errorf("comment %q", cmds[0].Comment)
	}
}

func TestSSMPlanNamesInstancesSSMDoesNotManage(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	ssmFleet(f, 1)
	act := ssmAction(t, a, "aws.ssm.run_patch_baseline")
	req := wafReq("patch", map[string]any{"account": "prod", "instance_ids": []string{ssmID(1), ssmID(99)}})
	plan, err := act.Plan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("cannot run AWS-RunPatchBaseline (Install): SSM in eu-west-1 does not manage %s (it manages 1 of the 2 instances given)", ssmID(99))
	if plan.Summary != want {
		t.Errorf("plan summary %q, want %q", plan.Summary, want)
	}
	before := f.State()
	_, err = act.Execute(ctx, req)
	if app := wafAppErr(t, err, "InvalidInstanceId", true); !strings.Contains(app.Error(), ssmID(99)) {
		t.Errorf("error %q does not name the instance", app.Error())
	}
	if !reflect.DeepEqual(f.State(), before) {
		t.Error("a refused command changed state")
	}
	// A tag nobody has: refused before anything is sent.
	_, err = act.Execute(ctx, wafReq("patch2", map[string]any{"account": "prod", "tag": map[string]any{"key": "Fleet", "values": []string{"db"}}}))
	wafAppErr(t, err, ErrSSMNoInstances, true)
	if n := len(f.CallsTo("ssm", "SendCommand")); n != 1 {
		t.Errorf("%d SendCommand calls, want only the refused one", n)
	}
}

func TestSSMRunCommandReportsAnOutputExcerpt(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	ssmFleet(f, 2)
	long := strings.Repeat("é", 1500) // 3000 bytes
	f.SetCommandOutcome(ssmID(1), awsfake.CommandOutcome{Output: "restarted\n"})
	f.SetCommandOutcome(ssmID(2), awsfake.CommandOutcome{Output: long})
	act := ssmAction(t, a, "aws.ssm.run_command")
	if !strings.Contains(act.Spec().Description, "playbooks must put an approval on this step") {
		t.Errorf("description %q", act.Spec().Description)
	}
	res, err := act.Execute(ctx, wafReq("cmd", map[string]any{"account": "prod", "instance_ids": []string{ssmID(1), ssmID(2)},
		"document_name": "AWS-RunShellScript", "parameters": map[string]any{"commands": []any{"systemctl restart app"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if got := ssmInstanceOut(t, res, ssmID(1)); got["output"] != "restarted\n" || got["output_truncated"] != false || got["response_code"] != 0 || got["status"] != "Success" {
		t.Errorf("%s: %v", ssmID(1), got)
	}
	got := ssmInstanceOut(t, res, ssmID(2))
	if out := got["output"].(string); len(out) != 2048 || out != long[:2048] || got["output_truncated"] != true {
		t.Errorf("%s: %d bytes, truncated %v", ssmID(2), len(out), got["output_truncated"])
	}
}

func TestSSMRefusesBadInputsAndUnknownDocuments(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	ssmFleet(f, 1)
	patch, run := ssmAction(t, a, "aws.ssm.run_patch_baseline"), ssmAction(t, a, "aws.ssm.run_command")
	ids := []string{ssmID(1)}
	for _, tc := range []struct {
		act  Action
		with map[string]any
		want string
	}{
		{patch, map[string]any{}, "give instance_ids or a tag"},
		{patch, map[string]any{"instance_ids": ids, "tag": map[string]any{"key": "Fleet", "values": []string{"web"}}}, "not both"},
		{patch, map[string]any{"tag": map[string]any{"key": "Fleet"}}, "tag: want a key"},
		{patch, map[string]any{"instance_ids": []string{"i-123"}}, `"i-123" is not an instance ID`},
		{patch, map[string]any{"instance_ids": ids, "max_concurrency": "0"}, `max_concurrency: "0"`},
		{patch, map[string]any{"instance_ids": ids, "max_errors": "-1"}, `max_errors: "-1"`},
		{patch, map[string]any{"instance_ids": ids, "operation": "Upgrade"}, `operation: "Upgrade", want Install or Scan`},
		{patch, map[string]any{"instance_ids": ids, "reboot_option": "Always"}, `reboot_option: "Always"`},
		{run, map[string]any{"instance_ids": ids, "document_name": "rm -rf /"}, "is not an SSM document name or ARN"},
	} {
		_, err := tc.act.Execute(ctx, wafReq("s", tc.with))
		if app := wafAppErr(t, err, ErrBadInput, true); !strings.Contains(app.Error(), tc.want) {
			t.Errorf("%v: %q lacks %q", tc.with, app.Error(), tc.want)
		}
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("bad inputs made %d calls", n)
	}
	_, err := run.Execute(ctx, wafReq("s", map[string]any{"account": "prod", "instance_ids": ids, "document_name": "Team-Unreviewed"}))
	wafAppErr(t, err, "InvalidDocument", true)
	if len(ssmCommands(f)) != 0 {
		t.Error("a refused document left a command")
	}
}

func TestSSMThrottledPatchSendsOnce(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	ssmFleet(f, 4)
	f.Throttle(0.3)
	res, err := ssmAction(t, a, "aws.ssm.run_patch_baseline").Execute(ctx, wafReq("patch",
		map[string]any{"account": "prod", "tag": map[string]any{"key": "Fleet", "values": []string{"web"}}, "max_concurrency": "50%"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Outputs["succeeded"].([]any); len(got) != 4 {
		t.Errorf("succeeded %v", got)
	}
	sent, throttled := 0, 0
	for _, c := range f.Calls() {
		if c.ErrorCode == "ThrottlingException" {
			throttled++
		}
		if c.Operation == "SendCommand" && c.ErrorCode == "" {
			sent++
		}
	}
	if sent != 1 || len(ssmCommands(f)) != 1 || throttled == 0 {
		t.Errorf("%d commands sent, %d in the fake, %d calls throttled", sent, len(ssmCommands(f)), throttled)
	}
}

func TestSSMPermissionsAreWhatPlanAndExecuteCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		with map[string]any
	}{
		{"aws.ssm.run_patch_baseline", map[string]any{"account": "prod", "tag": map[string]any{"key": "Fleet", "values": []string{"web"}}}},
		{"aws.ssm.run_command", map[string]any{"account": "prod", "tag": map[string]any{"key": "Fleet", "values": []string{"web"}},
			"document_name": "AWS-RunShellScript", "parameters": map[string]any{"commands": []any{"uptime"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, f := newTestAWS(t)
			ctx := context.Background()
			ssmFleet(f, 2)
			act := ssmAction(t, a, tc.name)
			if _, err := act.Plan(ctx, wafReq("s", tc.with)); err != nil {
				t.Fatal(err)
			}
			if _, err := act.Execute(ctx, wafReq("s", tc.with)); err != nil {
				t.Fatal(err)
			}
			wafSSMCheckIAM(t, act, f)
		})
	}
}

func TestSSMHeartbeatsProgressAsAnActivity(t *testing.T) {
	a, f := newTestAWS(t)
	ssmFleet(f, 2)
	act := ssmAction(t, a, "aws.ssm.run_patch_baseline")
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	// Registered bare (Steps' keep-alive heartbeats would hold the first, unbatched, slot).
	env.RegisterActivityWithOptions(func(ctx context.Context, req Request) (Result, error) { return act.Execute(ctx, req) },
		activity.RegisterOptions{Name: "patch"})
	var mu sync.Mutex
	var beats []ssmProgress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var p ssmProgress
		if details.HasValues() && details.Get(&p) == nil {
			mu.Lock()
			beats = append(beats, p)
			mu.Unlock()
		}
	})
	v, err := env.ExecuteActivity("patch", wafReq("patch", map[string]any{"account": "prod",
		"tag": map[string]any{"key": "Fleet", "values": []any{"web"}}}))
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := v.Get(&res); err != nil || len(res.Outputs["succeeded"].([]any)) != 2 {
		t.Fatalf("result %+v %v", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(beats) == 0 || beats[0].CommandID != res.Resource || beats[0].Targets != 2 || beats[0].Status != "InProgress" {
		t.Errorf("heartbeats %+v", beats)
	}
}
