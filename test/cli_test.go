package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/test/harness"
	"github.com/firebreak-ir/firebreak/workflows"
)

// TestCLIWithoutWorker: with Temporal up but no worker on the client's
// task queue, commands that would wait on a worker say so and exit 1
// instead of hanging, and start nothing.
func TestCLIWithoutWorker(t *testing.T) {
	dir := t.TempDir()
	// The dev process's worker polls another queue than the client's.
	d := startDev(t, filepath.Join(dir, "data"), "TEMPORAL_TASK_QUEUE=elsewhere")
	env := []string{"TEMPORAL_ADDRESS=" + d.TemporalAddr, "FIREBREAK_LOG_LEVEL=warn", "TEMPORAL_TASK_QUEUE=lonely"}
	const want = "no worker is polling task queue lonely; is `firebreak dev` or `firebreak worker` running?"
	for _, args := range [][]string{
		{"playbook", "run", "rollback-drill", "--plan"},
		{"ping"},
		{"incident", "declare", "nobody home"},
		{"playbook", "status", "some-run"},
		{"playbook", "watch", "some-run"},
		{"incident", "note", "inc-2026-0001", "hello"},
	} {
		code, out := cli(t, env, args...)
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("%v: exit %d, want 1 with %q:\n%s", args, code, want, out)
		}
	}
	// Lists read visibility, which needs no worker; nothing was started.
	if code, out := cli(t, env, "playbook", "runs"); code != 0 || strings.TrimSpace(out) != "no runs" {
		t.Errorf("runs: exit %d\n%s", code, out)
	}
	// The same commands work against the queue a worker polls.
	env[len(env)-1] = "TEMPORAL_TASK_QUEUE=elsewhere"
	if code, out := cli(t, env, "playbook", "run", "rollback-drill", "--plan"); code != 0 || !strings.Contains(out, "plan for rollback-drill") {
		t.Errorf("run --plan with a worker: exit %d\n%s", code, out)
	}
}

// TestCLIFirstHour drives a run and an incident from the CLI the way an
// operator in the first hour would: detach from a run with Ctrl-C, find
// it again, approve with the timeline's short hash, watch it finish, and
// steer an incident without Slack.
func TestCLIFirstHour(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, filepath.Join(dir, "data"))
	env := []string{"TEMPORAL_ADDRESS=" + d.TemporalAddr, "FIREBREAK_LOG_LEVEL=warn"}

	// The drill's approvers come from its input: no configuration needed.
	run, err := harness.Start(bin, env, "playbook", "run", "rollback-drill", "-i", "fail=false", "-i", "approvers=U0BOB", "--id", "e2e-drill", "--as", "alice")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run.Stop(5 * time.Second) })
	hash := openGate(t, env, "e2e-drill", "rotate")

	// Ctrl-C stops following, not the run, and says how to follow again.
	if err := run.Cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-run.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not stop following on SIGINT:\n%s", run.Output())
	}
	if run.ExitCode() != 130 || !strings.Contains(run.Output(), "Follow it again with: firebreak playbook watch e2e-drill") {
		t.Fatalf("after SIGINT: exit %d\n%s", run.ExitCode(), run.Output())
	}
	if st, ok := runStatus(t, env, "e2e-drill"); !ok || st.Status != workflows.RunRunning {
		t.Fatalf("the run did not go on after SIGINT: %+v", st)
	}

	// The run is easy to find again.
	code, out := cli(t, env, "playbook", "runs", "--status", "running", "--json")
	var rows []struct{ Playbook, ID, Status, Requester string }
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 ||
		rows[0].ID != "e2e-drill" || rows[0].Playbook != "rollback-drill" || rows[0].Requester != "alice" {
		t.Fatalf("runs --status running: exit %d\n%s", code, out)
	}

	// Approve with a prefix of the hash: too short and wrong ones are
	// refused naming the current short hash.
	short := hash[:12]
	approve := []string{"playbook", "approve", "e2e-drill", "rotate", "--as", "U0BOB", "--plan-hash"}
	if code, out := cli(t, env, append(approve, hash[:7])...); code != 2 || !strings.Contains(out, "too short") || !strings.Contains(out, short) {
		t.Errorf("7-character hash: exit %d\n%s", code, out)
	}
	if code, out := cli(t, env, append(approve, "deadbeef")...); code != 1 || !strings.Contains(out, "does not match step rotate's plan, now "+short) {
		t.Errorf("wrong hash: exit %d\n%s", code, out)
	}
	if code, out := cli(t, env, append(approve, hash[:8])...); code != 0 || !strings.Contains(out, "approved step rotate") {
		t.Fatalf("8-character hash: exit %d\n%s", code, out)
	}

	// Follow it again to the end; finishing its manual task ends it.
	watch, err := harness.Start(bin, env, "playbook", "watch", "e2e-drill")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = watch.Stop(5 * time.Second) })
	waitFor(t, func() bool {
		code, _ := cli(t, env, "playbook", "complete", "e2e-drill", "notify-ack", "--as", "U0BOB")
		return code == 0
	})
	select {
	case <-watch.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("watch did not end with the run:\n%s", watch.Output())
	}
	for _, want := range []string{"run e2e-drill of rollback-drill, requested by alice", "approval_vote", "task_completed", "rollback-drill succeeded"} {
		if watch.ExitCode() != 0 || !strings.Contains(watch.Output(), want) {
			t.Errorf("watch: exit %d, lacks %q:\n%s", watch.ExitCode(), want, watch.Output())
		}
	}
	if code, out := cli(t, env, "playbook", "runs", "--status", "succeeded", "--playbook", "rollback-drill"); code != 0 || !regexp.MustCompile(`rollback-drill\s+e2e-drill\s+succeeded\s+alice`).MatchString(out) {
		t.Errorf("runs --status succeeded: exit %d\n%s", code, out)
	}
	if code, out := cli(t, env, "playbook", "runs", "--status", "running"); code != 0 || strings.TrimSpace(out) != "no runs" {
		t.Errorf("runs --status running after the end: exit %d\n%s", code, out)
	}

	// An incident steered without Slack, its key typed in lower case.
	code, out = cli(t, env, "incident", "declare", "Checkout is down", "--sev", "3", "--as", "U0BOB")
	key := regexp.MustCompile(`INC-\d{4}-\d{4}`).FindString(out)
	if code != 0 || key == "" {
		t.Fatalf("declare: exit %d\n%s", code, out)
	}
	lower := strings.ToLower(key)
	for _, c := range [][]string{
		{"incident", "note", lower, "customers", "see", "500s", "--as", "U0BOB"},
		{"incident", "sev", lower, "2"},
		{"incident", "role", lower, "scribe", "U0CAROL"},
		{"incident", "status", lower, "investigating"},
		{"incident", "run", lower, "rollback-drill", "--plan"},
	} {
		if code, out := cli(t, env, c...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", c, code, out)
		}
	}
	// The workflow's validators still decide: the same severity is refused.
	if code, out := cli(t, env, "incident", "sev", lower, "2"); code != 1 || !strings.Contains(out, key+" is already SEV2") {
		t.Errorf("same severity: exit %d\n%s", code, out)
	}
	waitFor(t, func() bool {
		_, out := cli(t, env, "incident", "list")
		return regexp.MustCompile(key + `\s+SEV2\s+investigating\s+\S+\s+Checkout is down`).MatchString(out)
	})
	if code, out := cli(t, env, "incident", "status", lower); code != 0 || !strings.Contains(out, "scribe     U0CAROL") || !strings.Contains(out, "rollback-drill planned") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	if code, out := cli(t, env, "incident", "timeline", lower); code != 0 || !strings.Contains(out, "customers see 500s") {
		t.Errorf("timeline: exit %d\n%s", code, out)
	}
	if code, out := cli(t, env, "playbook", "runs", "--playbook", "rollback-drill", "--status", "planned"); code != 0 || !strings.Contains(out, key) {
		t.Errorf("runs of the incident: exit %d\n%s", code, out)
	}
	if code, out := cli(t, env, "incident", "resolve", lower, "rolled", "back"); code != 0 || !strings.Contains(out, "resolved") {
		t.Errorf("resolve: exit %d\n%s", code, out)
	}
}

// TestCLICallsAShippedPlaybook: a playbook of your own (--dir) can call a
// shipped one, and runs.
func TestCLICallsAShippedPlaybook(t *testing.T) {
	dir := t.TempDir()
	pbs := filepath.Join(dir, "playbooks")
	if err := os.Mkdir(pbs, 0o700); err != nil {
		t.Fatal(err)
	}
	src := "apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: my-update}\nsteps:\n  - id: update\n    call: {playbook: comms-checklist, with: {headline: \"all good\"}}\n"
	if err := os.WriteFile(filepath.Join(pbs, "update.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, filepath.Join(dir, "data"))
	env := []string{"TEMPORAL_ADDRESS=" + d.TemporalAddr, "FIREBREAK_LOG_LEVEL=warn"}
	if code, out := cli(t, env, "playbook", "run", "my-update", "--plan", "--dir", pbs); code != 0 || !strings.Contains(out, "plan for my-update") {
		t.Fatalf("plan my-update: exit %d\n%s", code, out)
	}
}
