package activities

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
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
	// A group the worker does not know adds nobody and is reported, so the
	// gate can say so instead of failing after retries.
	v, err = env.ExecuteActivity(steps.ResolveApprovers, ResolveApproversInput{Groups: []string{"nobody", "ops"}, Users: []string{"alice"}})
	res = ResolveApproversResult{}
	if err != nil || v.Get(&res) != nil || strings.Join(res.Members, ",") != "U1,U2,alice" || strings.Join(res.UnknownGroups, ",") != "nobody" {
		t.Fatalf("unknown group: %+v %v", res, err)
	}
}

// failingGroups fails to resolve any group, as Slack would when its API is down.
type failingGroups struct{}

func (failingGroups) Members(context.Context, string) ([]string, error) {
	return nil, errors.New("usergroups.users.list: service unavailable")
}

func TestResolveApproversGroupErrors(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	reg, err := NewRegistry(CoreActions()...)
	if err != nil {
		t.Fatal(err)
	}
	// No resolver at all (no configuration): every group is unknown.
	env.RegisterActivity(&Steps{Registry: reg})
	v, err := env.ExecuteActivity((&Steps{}).ResolveApprovers, ResolveApproversInput{Groups: []string{"oncall"}, Users: []string{"bob"}})
	var res ResolveApproversResult
	if err != nil || v.Get(&res) != nil || strings.Join(res.Members, ",") != "bob" || strings.Join(res.UnknownGroups, ",") != "oncall" {
		t.Fatalf("no resolver: %+v %v", res, err)
	}
	// Any other resolver error fails the activity (and is retried).
	env = s.NewTestActivityEnvironment()
	env.RegisterActivity(&Steps{Registry: reg, Groups: failingGroups{}})
	if _, err := env.ExecuteActivity((&Steps{}).ResolveApprovers, ResolveApproversInput{Groups: []string{"oncall"}}); err == nil || !strings.Contains(err.Error(), "service unavailable") {
		t.Fatalf("resolver failure: got %v", err)
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

// TestResolveApproversCLIPolicy: the gate gets the worker's CLI mode and
// the public keys of its approvers (and of those who may join on
// escalation), and no one else's.
func TestResolveApproversCLIPolicy(t *testing.T) {
	key := func(b byte) ed25519.PublicKey { return bytes.Repeat([]byte{b}, ed25519.PublicKeySize) }
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	steps := &Steps{Groups: StaticGroups{"ops": {"U1", "U2"}, "managers": {"U3"}}, CLI: CLIPolicy{
		Approvals: CLIApprovalsForbid,
		Keys:      map[string]ed25519.PublicKey{"U1": key(1), "U3": key(3), "U9": key(9), "U2": key(2)[:5]},
	}}
	env.RegisterActivity(steps)
	v, err := env.ExecuteActivity(steps.ResolveApprovers, ResolveApproversInput{Groups: []string{"ops"}, KeyGroups: []string{"managers", "nobody"}})
	var res ResolveApproversResult
	if err != nil || v.Get(&res) != nil {
		t.Fatalf("resolve: %v", err)
	}
	if strings.Join(res.Members, ",") != "U1,U2" || res.CLIApprovals != CLIApprovalsForbid {
		t.Fatalf("members %v, mode %q", res.Members, res.CLIApprovals)
	}
	want := map[string]string{"U1": base64.StdEncoding.EncodeToString(key(1)), "U3": base64.StdEncoding.EncodeToString(key(3))}
	if !maps.Equal(res.CLIKeys, want) {
		t.Fatalf("keys %v, want %v (members' and the escalation group's, well-formed only)", res.CLIKeys, want)
	}

	// A worker without a CLI policy gives gates the default mode.
	plain := &Steps{Groups: StaticGroups{"ops": {"U1"}}}
	env = s.NewTestActivityEnvironment()
	env.RegisterActivity(plain)
	v, err = env.ExecuteActivity(plain.ResolveApprovers, ResolveApproversInput{Groups: []string{"ops"}})
	res = ResolveApproversResult{}
	if err != nil || v.Get(&res) != nil || res.CLIApprovals != CLIApprovalsOne || res.CLIKeys != nil {
		t.Fatalf("default policy: %+v %v", res, err)
	}
}

// TestExecuteActionHeartbeats: a running action heartbeats, which is how
// Temporal notices a dead worker early and how an abort reaches it.
func TestExecuteActionHeartbeats(t *testing.T) {
	beat := make(chan struct{})
	var once sync.Once
	slow := Def[NoopInput]{
		Name:     "test.slow",
		PlanFunc: func(context.Context, Request, NoopInput) (Plan, error) { return Plan{Summary: "wait"}, nil },
		ExecuteFunc: func(context.Context, Request, NoopInput) (Result, error) {
			select {
			case <-beat:
				return Result{Summary: "heard a heartbeat"}, nil
			case <-time.After(10 * time.Second):
				return Result{}, errors.New("no heartbeat while the action ran")
			}
		},
	}
	reg, err := NewRegistry(slow)
	if err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { once.Do(func() { close(beat) }) })
	steps := &Steps{Registry: reg}
	env.RegisterActivity(steps)
	if _, err := env.ExecuteActivity(steps.ExecuteAction, ActionInput{Action: "test.slow", StepID: "s"}); err != nil {
		t.Fatal(err)
	}
}

func TestCoreRecordOncePerKey(t *testing.T) {
	reg, err := NewRegistry(CoreActions()...)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := reg.Get("core.record")
	exec := func(ctx context.Context, key string, with map[string]any) (Result, error) {
		return a.Execute(ctx, Request{Action: "core.record", IdempotencyKey: key, StepID: "s", With: with})
	}
	var appErr *temporal.ApplicationError
	t.Setenv(RecordDirEnv, "")
	if _, err := exec(context.Background(), "k1", map[string]any{"name": "isolate"}); !errors.As(err, &appErr) || !appErr.NonRetryable() || !strings.Contains(err.Error(), "set "+RecordDirEnv) {
		t.Fatalf("without a record directory: %v", err)
	}
	dir := t.TempDir()
	t.Setenv(RecordDirEnv, dir)
	for _, bad := range []string{"../escape", ".hidden", "a/b", ""} {
		if _, err := exec(context.Background(), "k1", map[string]any{"name": bad}); !errors.As(err, &appErr) || appErr.Type() != ErrBadInput {
			t.Errorf("name %q: want a bad-input error, got %v", bad, err)
		}
	}
	// A retry with the same key (after a crash, say) writes nothing new.
	for i, c := range []struct {
		key      string
		recorded bool
	}{{"wf/run/isolate", true}, {"wf/run/isolate", false}, {"wf/run2/isolate", true}} {
		res, err := exec(context.Background(), c.key, map[string]any{"name": "isolate"})
		if err != nil || res.Outputs["recorded"] != c.recorded {
			t.Fatalf("call %d (%s): %+v, %v; want recorded=%v", i, c.key, res, err, c.recorded)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "isolate.log"))
	if err != nil || string(b) != "wf/run/isolate\nwf/run2/isolate\n" {
		t.Fatalf("isolate.log: %q, %v", b, err)
	}
	// Holding after the change: a release file or a cancellation ends it
	// with success (the change is made); a deadline is a failure.
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if res, err := exec(context.Background(), "k-released", map[string]any{"name": "held", "hold_until": "go"}); err != nil || res.Outputs["recorded"] != true {
		t.Fatalf("released hold: %+v, %v", res, err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := exec(cancelled, "k-cancelled", map[string]any{"name": "held", "hold_until": "never"}); err != nil || res.Outputs["recorded"] != true {
		t.Fatalf("cancelled hold: %+v, %v", res, err)
	}
	expired, stop := context.WithDeadline(context.Background(), time.Now())
	defer stop()
	if _, err := exec(expired, "k-expired", map[string]any{"name": "held", "hold_until": "never"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired hold: %v", err)
	}
	b, err = os.ReadFile(filepath.Join(dir, "held.log"))
	if err != nil || string(b) != "k-released\nk-cancelled\nk-expired\n" {
		t.Fatalf("held.log: %q, %v", b, err)
	}
}
