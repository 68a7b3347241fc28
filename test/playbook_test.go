package test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/test/harness"
	"github.com/firebreak-ir/firebreak/workflows"
)

// cli runs one firebreak command against the dev process's Temporal.
func cli(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, _ := cmd.CombinedOutput()
	return cmd.ProcessState.ExitCode(), string(out)
}

// TestPlaybookRunFromCLI runs a playbook the way an operator would:
// `playbook run` follows it while other commands approve and finish tasks.
func TestPlaybookRunFromCLI(t *testing.T) {
	dir := t.TempDir()
	// The run is requested from the CLI, so its approver signs: an
	// unverified CLI approval could be the requester's own.
	key, pub := cliKey(t, dir, "ic1")
	cfg := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(cfg, []byte("access:\n  groups:\n    incident-commanders: [U0IC1, U0REQ]\n  cli:\n    keys:\n      U0IC1: "+pub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, filepath.Join(dir, "data"), "FIREBREAK_CONFIG="+cfg)
	env := []string{"TEMPORAL_ADDRESS=" + d.TemporalAddr, "FIREBREAK_PLAYBOOKS=testdata/playbooks", "FIREBREAK_LOG_LEVEL=warn"}

	if code, out := cli(t, env, "playbook", "run", "contain-host", "--input", "host=not-a-host"); code != 2 || !strings.Contains(out, `input "host"`) {
		t.Fatalf("bad input: exit %d\n%s", code, out)
	}

	run, err := harness.Start(bin, env, "playbook", "run", "contain-host", "--input", "host=i-0abc", "--as", "U0REQ", "--id", "e2e-contain")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run.Stop(5 * time.Second) })

	var hash string
	waitFor(t, func() bool {
		code, out := cli(t, env, "playbook", "status", "e2e-contain", "--json")
		if code != 0 {
			return false
		}
		var st workflows.RunStatus
		if json.Unmarshal([]byte(out), &st) != nil {
			return false
		}
		for _, s := range st.Steps {
			if s.ID == "isolate" && s.Approval != nil && s.Approval.Open {
				hash = s.Approval.PlanHash
			}
		}
		return hash != ""
	})

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"requester", []string{"--as", "U0REQ", "--plan-hash", hash}, "U0REQ requested this run and cannot approve its own step isolate"},
		{"stranger", []string{"--as", "U0NOPE", "--plan-hash", hash}, "U0NOPE is not an approver"},
		{"unsigned", []string{"--as", "U0IC1", "--plan-hash", hash}, "U0IC1 has a CLI key in access.cli.keys, so an unsigned CLI approval as U0IC1 is refused"},
		// A full-length hash goes to the run as typed (shorter ones are
		// matched by the CLI first), so the run's own check answers.
		{"stale plan", []string{"--as", "U0IC1", "--key", key, "--plan-hash", strings.Repeat("f", len(hash))}, "is not the one you approved"},
		{"no hash", []string{"--as", "U0IC1"}, "--plan-hash is required"},
	} {
		code, out := cli(t, env, append([]string{"playbook", "approve", "e2e-contain", "isolate"}, c.args...)...)
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, want refusal %q:\n%s", c.name, code, c.want, out)
		}
	}
	if code, out := cli(t, env, "playbook", "approve", "e2e-contain", "isolate", "--as", "U0IC1", "--key", key, "--plan-hash", hash); code != 0 || !strings.Contains(out, "approved step isolate (1 of 1: U0IC1)") {
		t.Fatalf("approve: exit %d\n%s", code, out)
	}
	waitFor(t, func() bool {
		code, _ := cli(t, env, "playbook", "complete", "e2e-contain", "evidence", "--as", "U0IC1", "--note", "disk image taken")
		return code == 0
	})

	select {
	case <-run.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("run did not finish:\n%s", run.Output())
	}
	if run.ExitCode() != 0 {
		t.Fatalf("run exit %d:\n%s", run.ExitCode(), run.Output())
	}
	for _, want := range []string{"approval_requested", "--plan-hash " + hash, "approval_granted", "task_completed          evidence  by U0IC1", "contain-host succeeded"} {
		if !strings.Contains(run.Output(), want) {
			t.Errorf("run output lacks %q:\n%s", want, run.Output())
		}
	}

	// Steering a finished or unknown run fails with a reason, exit 1.
	if code, out := cli(t, env, "playbook", "abort", "e2e-contain", "--as", "U0IC1"); code != 1 || !strings.Contains(out, "e2e-contain: workflow execution already completed") {
		t.Errorf("abort a finished run: exit %d\n%s", code, out)
	}
	if code, out := cli(t, env, "playbook", "status", "no-such-run"); code != 1 || !strings.Contains(out, "no-such-run") {
		t.Errorf("status of an unknown run: exit %d\n%s", code, out)
	}
	code, out := cli(t, env, "playbook", "timeline", "e2e-contain", "--json")
	var ev []workflows.Event
	if code != 0 || json.Unmarshal([]byte(out), &ev) != nil {
		t.Fatalf("timeline: exit %d\n%s", code, out)
	}
	actors := map[string]string{}
	for _, e := range ev {
		actors[e.Kind] = e.Actor + "@" + e.Origin
	}
	if actors[workflows.EventApprovalVote] != "U0IC1@cli" || actors[workflows.EventTaskCompleted] != "U0IC1@cli" || actors[workflows.EventRunStarted] != "U0REQ@cli" {
		t.Fatalf("timeline actors: %v", actors)
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 60s")
		}
		<-time.After(100 * time.Millisecond)
	}
}

// recordLines reads a core.record file: one line per change made.
func recordLines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func runStatus(t *testing.T, env []string, id string) (workflows.RunStatus, bool) {
	t.Helper()
	code, out := cli(t, env, "playbook", "status", id, "--json")
	var st workflows.RunStatus
	return st, code == 0 && json.Unmarshal([]byte(out), &st) == nil
}

// TestRunSurvivesKill kills firebreak dev with SIGKILL twice: while a run
// waits for approval, and while its approved action is executing (it has
// made its change, recorded by core.record outside the workflow, and not
// yet reported back). After each restart on the same data the run carries
// on; at the end each step's change was made exactly once, as the record
// files show.
func TestRunSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	key, pub := cliKey(t, dir, "ic1") // the run is requested from the CLI: its approver signs
	cfg := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(cfg, []byte("access:\n  groups:\n    incident-commanders: [U0IC1]\n  cli:\n    keys:\n      U0IC1: "+pub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, rec := filepath.Join(dir, "data"), filepath.Join(dir, "record")
	if err := os.Mkdir(rec, 0o700); err != nil {
		t.Fatal(err)
	}
	devEnv := []string{"FIREBREAK_CONFIG=" + cfg, activities.RecordDirEnv + "=" + rec}
	cliEnv := func(d *harness.Dev) []string {
		return []string{"TEMPORAL_ADDRESS=" + d.TemporalAddr, "FIREBREAK_PLAYBOOKS=testdata/playbooks", "FIREBREAK_LOG_LEVEL=warn"}
	}
	kill := func(d *harness.Dev) {
		t.Helper()
		if err := d.Cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-d.Done()
	}
	d := startDev(t, data, devEnv...)
	env := cliEnv(d)
	if code, out := cli(t, env, "playbook", "run", "record-once", "--as", "U0REQ", "--id", "kill-run", "--detach"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	hashOf := func(env []string) string {
		st, _ := runStatus(t, env, "kill-run")
		for _, s := range st.Steps {
			if s.ID == "isolate" && s.Approval != nil && s.Approval.Open {
				return s.Approval.PlanHash
			}
		}
		return ""
	}
	var hash string
	waitFor(t, func() bool { hash = hashOf(env); return hash != "" })

	kill(d) // at the approval gate
	d = startDev(t, data, devEnv...)
	env = cliEnv(d)
	if got := hashOf(env); got != hash {
		t.Fatalf("after kill -9 the gate shows plan %q, want %q", got, hash)
	}
	if code, out := cli(t, env, "playbook", "approve", "kill-run", "isolate", "--as", "U0IC1", "--key", key, "--plan-hash", hash); code != 0 {
		t.Fatalf("approve after restart: exit %d\n%s", code, out)
	}
	// isolate records its change, then holds until release-isolate exists.
	isolateLog := filepath.Join(rec, "isolate.log")
	waitFor(t, func() bool { return len(recordLines(t, isolateLog)) > 0 })

	kill(d) // mid-action: the change is made, Temporal has not heard back
	d = startDev(t, data, devEnv...)
	env = cliEnv(d)
	if err := os.WriteFile(filepath.Join(rec, "release-isolate"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var st workflows.RunStatus
	waitFor(t, func() bool {
		var ok bool
		st, ok = runStatus(t, env, "kill-run")
		return ok && st.Status != workflows.RunRunning
	})
	if st.Status != workflows.RunSucceeded {
		t.Fatalf("run ended %s: %+v", st.Status, st.Steps)
	}
	isolate, done := recordLines(t, isolateLog), recordLines(t, filepath.Join(rec, "done.log"))
	if len(isolate) != 1 || len(done) != 1 || !strings.HasPrefix(isolate[0], "kill-run/") || !strings.HasSuffix(isolate[0], "/isolate") {
		t.Fatalf("changes made: isolate %q, done %q (each exactly once, keyed by run and step)", isolate, done)
	}
	// The attempt that finished was the retry after the crash, and it
	// found the change already made.
	for _, s := range st.Steps {
		if s.ID == "isolate" && s.Outputs["recorded"] != false {
			t.Fatalf("isolate's last attempt: %+v (want the retry that found its change made)", s)
		}
	}
}

// TestAbortMidActionCompensates aborts a run while its action runs on a
// real server: the action has made its change and finishes once the
// cancellation reaches it, so the run counts the step as done and its
// compensation runs (on_failure: rollback).
func TestAbortMidActionCompensates(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "record")
	if err := os.Mkdir(rec, 0o700); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, filepath.Join(dir, "data"), activities.RecordDirEnv+"="+rec)
	env := []string{"TEMPORAL_ADDRESS=" + d.TemporalAddr, "FIREBREAK_PLAYBOOKS=testdata/playbooks", "FIREBREAK_LOG_LEVEL=warn"}
	if code, out := cli(t, env, "playbook", "run", "record-abort", "--as", "U0REQ", "--id", "abort-run", "--detach"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	waitFor(t, func() bool { return len(recordLines(t, filepath.Join(rec, "isolate.log"))) > 0 })
	if code, out := cli(t, env, "playbook", "abort", "abort-run", "--as", "U0IC1", "--reason", "wrong host"); code != 0 || !strings.Contains(out, "abort-run: aborting") {
		t.Fatalf("abort: exit %d\n%s", code, out)
	}
	var st workflows.RunStatus
	waitFor(t, func() bool {
		var ok bool
		st, ok = runStatus(t, env, "abort-run")
		return ok && st.Status != workflows.RunRunning
	})
	undo := recordLines(t, filepath.Join(rec, "isolate-undo.log"))
	if st.Status != workflows.RunAborted || len(undo) != 1 || !strings.HasSuffix(undo[0], "/isolate/compensate") {
		t.Fatalf("status %s, compensations %q; steps %+v", st.Status, undo, st.Steps)
	}
	code, out := cli(t, env, "playbook", "timeline", "abort-run", "--json")
	var ev []workflows.Event
	if code != 0 || json.Unmarshal([]byte(out), &ev) != nil {
		t.Fatalf("timeline: exit %d\n%s", code, out)
	}
	var outcome string
	for _, e := range ev {
		if e.Kind == workflows.EventActionStopOutcome {
			outcome = e.Outcome
		}
	}
	if outcome != "completed" {
		t.Fatalf("stop outcome %q, want completed; timeline %+v", outcome, ev)
	}
}
