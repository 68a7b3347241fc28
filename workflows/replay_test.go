package workflows

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-ir/firebreak/playbooks"
)

// TestReplayRecordedHistories replays every history recorded from a real
// server (go run ./test/record) against today's workflow code. A failure
// means the code changed in a way that would break runs in flight: gate
// the change with workflow.GetVersion, or re-record if no run can be in
// flight (see README "Replay tests").
func TestReplayRecordedHistories(t *testing.T) {
	// testdata/*/ keeps histories recorded before a gated change (such as
	// before-first-hour/), so the old code paths keep replaying.
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	older, err := filepath.Glob("testdata/*/*.json")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, older...)
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/")
	}
	for _, f := range files {
		name, _ := filepath.Rel("testdata", f)
		t.Run(name, func(t *testing.T) {
			if err := replay(f, PlaybookWorkflow); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}

// replay runs one recorded history under its original workflow ID (the
// file name, with "--" for "/"), which child workflow IDs derive from.
// playbook is registered as PlaybookWorkflow, so a test can swap it.
func replay(file string, playbook any) error {
	fh, err := os.Open(file)
	if err != nil {
		return err
	}
	defer fh.Close()
	hist, err := client.HistoryFromJSON(fh, client.HistoryJSONOptions{})
	if err != nil {
		return err
	}
	id := strings.ReplaceAll(strings.TrimSuffix(filepath.Base(file), ".json"), "--", "/")
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(playbook, workflow.RegisterOptions{Name: "PlaybookWorkflow"})
	r.RegisterWorkflow(IncidentWorkflow)
	r.RegisterWorkflow(IncidentRegistryWorkflow)
	return r.ReplayWorkflowHistoryWithOptions(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)), hist,
		worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: id, RunID: "replay"}})
}

// TestEveryLibraryPlaybookHasHistories keeps the recordings in step with
// the library: a new playbook needs a run and a plan recorded. An incident
// run with Slack is recorded too.
func TestEveryLibraryPlaybookHasHistories(t *testing.T) {
	lib, err := playbooks.Library(registry(t))
	if err != nil {
		t.Fatal(err)
	}
	incidents, err := filepath.Glob("testdata/incident-INC-*.json")
	if err != nil || len(incidents) < 2 {
		t.Errorf("want an incident and its run recorded (testdata/incident-INC-*.json), found %v", incidents)
	}
	for _, pb := range lib {
		for _, suffix := range []string{".json", ".plan.json"} {
			f := filepath.Join("testdata", pb.Metadata.Name+suffix)
			if _, err := os.Stat(f); err != nil {
				t.Errorf("%s has no recorded history %s: run `go run ./test/record`", pb.Metadata.Name, f)
			}
		}
	}
}

// TestReplayDetectsChangedCode proves the replay test can fail: a
// different workflow body under the same name does not match the history.
func TestReplayDetectsChangedCode(t *testing.T) {
	changed := func(ctx workflow.Context, in PlaybookInput) (PlaybookResult, error) {
		return PlaybookResult{Status: RunSucceeded}, workflow.Sleep(ctx, 1)
	}
	err := replay("testdata/rollback-drill.json", changed)
	// TMPRL1100 is the SDK's code for a nondeterminism error.
	if err == nil || !strings.Contains(err.Error(), "TMPRL1100") {
		t.Fatalf("want a nondeterminism error, got %v", err)
	}
}
