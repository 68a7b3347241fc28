package test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/integrations/config"
	fslack "github.com/firebreak-ir/firebreak/integrations/slack"
	"github.com/firebreak-ir/firebreak/test/harness"
	"github.com/firebreak-ir/firebreak/workflows"
)

// noConfig is the environment of a fresh install: no firebreak.yaml, the
// built-in library, the CLI acting as alice.
func noConfig(d *harness.Dev) []string {
	return []string{"TEMPORAL_ADDRESS=" + d.TemporalAddr, "FIREBREAK_CONFIG=", "FIREBREAK_PLAYBOOKS=",
		"FIREBREAK_USER=alice", "FIREBREAK_LOG_LEVEL=warn"}
}

// gateState waits for step's approval gate on run id and returns its hash.
func gateState(t *testing.T, env []string, id, step string) workflows.ApprovalState {
	t.Helper()
	var gate workflows.ApprovalState
	waitFor(t, func() bool {
		code, out := cli(t, env, "playbook", "status", id, "--json")
		var st workflows.RunStatus
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			return false
		}
		for _, s := range st.Steps {
			if s.ID == step && s.Approval != nil && s.Approval.Open {
				gate = *s.Approval
				return true
			}
		}
		return false
	})
	return gate
}

// TestDrillWithNoConfiguration is the first hour of a new user: no
// firebreak.yaml, `playbook run rollback-drill`, approve, finish the
// manual step, watch it retry, fail and roll back.
func TestDrillWithNoConfiguration(t *testing.T) {
	d := startDev(t, filepath.Join(t.TempDir(), "data"), "FIREBREAK_CONFIG=")
	env := noConfig(d)

	code, out := cli(t, env, "playbook", "run", "rollback-drill", "--plan")
	if code != 0 || !strings.Contains(out, "approvers: alice") || strings.Contains(out, "warning") || !strings.Contains(out, "no change (core.noop does nothing)") {
		t.Fatalf("plan: exit %d\n%s", code, out)
	}
	// The plan line says where the approvers come from, not the raw expression.
	if !strings.Contains(out, "(approval: 1 from approval.users (named below))") || strings.Contains(out, "${{") {
		t.Fatalf("plan's approval line:\n%s", out)
	}

	run, err := harness.Start(bin, env, "playbook", "run", "rollback-drill", "--id", "e2e-drill")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run.Stop(5 * time.Second) })

	gate := gateState(t, env, "e2e-drill", "rotate")
	if strings.Join(gate.Eligible, ",") != "alice" {
		t.Fatalf("eligible %v, want the requester alone", gate.Eligible)
	}
	// With one possible approver the hint names them.
	waitFor(t, func() bool {
		return strings.Contains(run.Output(), "needs 1 approval(s) from alice") &&
			strings.Contains(run.Output(), "--plan-hash "+gate.PlanHash+" --as alice")
	})
	// A hash that matches no plan is refused with a message that does not
	// contradict itself ("you saw X, it is now X").
	if code, out := cli(t, env, "playbook", "approve", "e2e-drill", "rotate", "--plan-hash", gate.PlanHash[:12]+"0"); code == 0 ||
		!strings.Contains(out, "does not match step rotate's plan, now "+gate.PlanHash[:12]) || strings.Contains(out, "you saw") {
		t.Fatalf("stale hash: exit %d\n%s", code, out)
	}
	if code, out := cli(t, env, "playbook", "approve", "e2e-drill", "rotate", "--plan-hash", gate.PlanHash); code != 0 {
		t.Fatalf("approve: exit %d\n%s", code, out)
	}
	waitFor(t, func() bool {
		code, _ := cli(t, env, "playbook", "complete", "e2e-drill", "notify-ack")
		return code == 0
	})
	select {
	case <-run.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("the drill did not finish:\n%s", run.Output())
	}
	out = run.Output()
	if run.ExitCode() != 1 {
		t.Fatalf("the drill fails on purpose (exit 1), got %d:\n%s", run.ExitCode(), out)
	}
	for _, want := range []string{
		"attempt 1 of 2 failed: drill failure, rolling back; retrying in 1s",
		"drill failure, rolling back (attempt 2 of 2; no retries left)",
		"rollback_finished",
		"0 of 3 compensations failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "retryable") || strings.Contains(out, "(type:") {
		t.Errorf("Temporal's decorations leak into the run's output:\n%s", out)
	}
}

// TestSeverityFromTheCLI: the documented `when` works from the CLI, where
// there is no incident: the step is skipped, not failed.
func TestSeverityFromTheCLI(t *testing.T) {
	dir := t.TempDir()
	pb := "apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: sev}\nsteps:\n" +
		"  - id: page-exec\n    when: incident.severity == 'sev1'\n    action: core.log\n    with: {message: page}\n" +
		"  - id: always\n    action: core.log\n    with: {message: \"incident '${{ incident.key }}'\"}\n"
	if err := os.WriteFile(filepath.Join(dir, "sev.yaml"), []byte(pb), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, filepath.Join(dir, "data"), "FIREBREAK_CONFIG=")
	env := append(noConfig(d), "FIREBREAK_PLAYBOOKS="+dir)
	code, out := cli(t, env, "playbook", "run", "sev")
	if code != 0 || !strings.Contains(out, "step_skipped") || !strings.Contains(out, `logged "incident ''"`) {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// readmeConfig is the "Minimal firebreak.yaml" block of the README.
func readmeConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "### Minimal firebreak.yaml")
	if !ok {
		t.Fatal(`README has no "Minimal firebreak.yaml" section`)
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("the Minimal firebreak.yaml section has no yaml block")
	}
	return block
}

// TestMinimalConfigFromReadme loads the README's CLI-only configuration as
// the worker would, and checks the library against it: no warning.
func TestMinimalConfigFromReadme(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(path, []byte(readmeConfig(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) string { return "" }, config.ModeDev)
	if err != nil {
		t.Fatalf("the README's minimal firebreak.yaml does not load: %v", err)
	}
	if got := strings.Join(cfg.Access.Groups["oncall"], ","); got != "alice,bob" {
		t.Fatalf("oncall: %q", got)
	}
	code, out := cli(t, []string{"FIREBREAK_CONFIG=" + path, "FIREBREAK_PLAYBOOKS="}, "playbook", "check")
	if code != 0 || strings.Contains(out, "warning") {
		t.Fatalf("check with the minimal config: exit %d\n%s", code, out)
	}
}

// TestSlackGroupsReportUnknownGroups: with Slack configured, an approver
// group missing from access.groups is reported as unknown (it adds nobody)
// rather than failing the gate.
func TestSlackGroupsReportUnknownGroups(t *testing.T) {
	g := &fslack.Groups{Static: map[string][]string{"ic": {"U0IC1"}}}
	if _, err := g.Members(context.Background(), "oncall"); !errors.Is(err, activities.ErrUnknownGroup) {
		t.Fatalf("want ErrUnknownGroup, got %v", err)
	}
}
