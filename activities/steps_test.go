package activities

import (
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

func TestStepsActivities(t *testing.T) {
	reg, err := NewRegistry(CoreActions()...)
	if err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	steps := &Steps{Registry: reg, Groups: StaticGroups{"ops": {"U2", "U1"}}}
	env.RegisterActivity(steps)

	v, err := env.ExecuteActivity(steps.PlanAction, ActionInput{Action: "core.log", StepID: "s", With: map[string]any{"message": "hi"}})
	var p Plan
	if err != nil || v.Get(&p) != nil || p.Summary != `log "hi"` {
		t.Fatalf("plan: %+v %v", p, err)
	}
	// Bad input is final, not retried.
	for _, in := range []ActionInput{
		{Action: "core.log", StepID: "s", With: map[string]any{"mesage": "typo"}},
		{Action: "core.log", StepID: "s"},
		{Action: "aws.nope", StepID: "s"},
	} {
		_, err := env.ExecuteActivity(steps.ExecuteAction, in)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || !appErr.NonRetryable() {
			t.Errorf("%+v: want a non-retryable error, got %v", in, err)
		}
		_, err = env.ExecuteActivity(steps.PlanAction, in)
		if !errors.As(err, &appErr) || !appErr.NonRetryable() {
			t.Errorf("plan %+v: want a non-retryable error, got %v", in, err)
		}
	}
	// Inherited inputs drop what the action does not declare.
	if _, err := env.ExecuteActivity(steps.ExecuteAction, ActionInput{Action: "core.noop", StepID: "s", With: map[string]any{"message": "x"}, Inherited: true}); err != nil {
		t.Fatalf("inherited inputs: %v", err)
	}
	v, err = env.ExecuteActivity(steps.ResolveApprovers, ResolveApproversInput{Groups: []string{"ops"}, Users: []string{"U3", "U1"}})
	var res ResolveApproversResult
	if err != nil || v.Get(&res) != nil || strings.Join(res.Members, ",") != "U1,U2,U3" {
		t.Fatalf("approvers: %+v %v", res, err)
	}
	if _, err := env.ExecuteActivity(steps.ResolveApprovers, ResolveApproversInput{Groups: []string{"nobody"}}); err == nil || !strings.Contains(err.Error(), `unknown approver group "nobody"`) {
		t.Fatalf("unknown group: %v", err)
	}
}

func TestChannelName(t *testing.T) {
	for key, want := range map[string]string{
		"INC-2026-0042": "inc-2026-0042-db-is-on-fire-again",
	} {
		if got := ChannelName(key, "DB is on fire (again)!"); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
	long := ChannelName("INC-2026-0001", strings.Repeat("very long title ", 20))
	if len(long) > 80 || strings.HasSuffix(long, "-") {
		t.Errorf("long name %q (%d)", long, len(long))
	}
}
