package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-ir/firebreak/workflows"
)

// TestExtendUsageErrorsExitTwoBeforeDialing: a DURATION that is no
// extension is the user's to fix (exit 2), found before dialing (the
// address below answers nothing).
func TestExtendUsageErrorsExitTwoBeforeDialing(t *testing.T) {
	env := map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"playbook", "extend", "run-1", "hold", "soon"}, `DURATION "soon": invalid duration "soon"`},
		{[]string{"playbook", "extend", "--", "run-1", "hold", "-1h"}, `DURATION "-1h": an extension must be positive`},
		{[]string{"playbook", "extend", "run-1", "hold", "0"}, `DURATION "0": an extension must be positive`},
		{[]string{"playbook", "extend", "run-1", "hold"}, "accepts 3 arg(s), received 2"},
	} {
		code, _, errOut := runCLI(t, env, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", tc.args, code, exitUsage, tc.want, errOut)
		}
	}
}

// extendClient is a run that answers extend_wait, or refuses it with
// refuse as its validator would.
type extendClient struct {
	client.Client
	refuse string
	got    []client.UpdateWorkflowOptions
}

type extendHandle struct {
	client.WorkflowUpdateHandle
	res workflows.WaitExtended
}

func (h extendHandle) Get(_ context.Context, ptr any) error {
	b, err := json.Marshal(h.res)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

func (c *extendClient) UpdateWorkflow(_ context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	c.got = append(c.got, opts)
	if c.refuse != "" {
		return nil, temporal.NewApplicationError(c.refuse, "")
	}
	start := time.Date(2026, 3, 14, 16, 0, 0, 0, time.UTC)
	return extendHandle{res: workflows.WaitExtended{StepID: "hold", By: "24h", Until: start.Add(48 * time.Hour), Latest: start.Add(72 * time.Hour)}}, nil
}

func TestExtendWait(t *testing.T) {
	x := workflows.WaitExtension{StepID: "hold", By: "1d", Actor: "alice", Reason: "still attacking", Origin: "cli"}
	c := &extendClient{}
	var out bytes.Buffer
	if err := extendWait(context.Background(), c, &out, "run-1", x); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "hold extended by 24h: it now ends at 2026-03-16T16:00:00Z (at the latest 2026-03-17T16:00:00Z)\n" {
		t.Fatalf("printed %q", got)
	}
	if len(c.got) != 1 || c.got[0].WorkflowID != "run-1" || c.got[0].UpdateName != workflows.UpdateExtendWait || !reflect.DeepEqual(c.got[0].Args, []any{x}) {
		t.Fatalf("sent %+v", c.got)
	}

	// A refusal is an error (exit 1) carrying the run's reason.
	c = &extendClient{refuse: "step hold cannot be extended: its playbook does not set wait.extendable: true"}
	out.Reset()
	err := extendWait(context.Background(), c, &out, "run-1", x)
	if err == nil || err.Error() != "run-1: refused: step hold cannot be extended: its playbook does not set wait.extendable: true" {
		t.Fatalf("refusal: %v", err)
	}
	if out.Len() != 0 {
		t.Fatalf("printed on a refusal: %q", out.String())
	}
	// Not the user's typo: run() exits 1, not 2.
	var ue usageError
	if errors.As(err, &ue) {
		t.Fatalf("a refusal is a usage error: %v", err)
	}
}

func TestWaitEnd(t *testing.T) {
	start := time.Date(2026, 3, 14, 16, 0, 0, 0, time.UTC)
	st := workflows.StepState{ID: "hold", Status: workflows.StepWaiting, Until: start.Add(24 * time.Hour)}
	if got := waitEnd("run-1", st); got != "until 2026-03-15T16:00:00Z" {
		t.Errorf("fixed wait: %q", got)
	}
	st.Extendable, st.Latest = true, start.Add(72*time.Hour)
	if got := waitEnd("run-1", st); got != "until 2026-03-15T16:00:00Z; extendable up to 2026-03-17T16:00:00Z: firebreak playbook extend run-1 hold DURATION" {
		t.Errorf("extendable wait: %q", got)
	}
}

// TestShowAndGraphDescribeExtendableWaits: show and graph say how long a
// wait is, written as a template or not, and how far it may be extended.
func TestShowAndGraphDescribeExtendableWaits(t *testing.T) {
	dir := writePlaybooks(t, map[string]string{"block.yaml": `apiVersion: firebreak/v1
kind: Playbook
metadata: {name: my-block}
inputs:
  duration: {type: duration, default: 24h}
steps:
  - id: hold
    wait: {duration: "${{ inputs.duration }}", extendable: true, max: 3d}
  - id: settle
    wait: {duration: 10m}
`})
	code, out, errOut := runCLI(t, nil, "playbook", "show", "--dir", dir, "my-block")
	if code != 0 || !strings.Contains(out, "1. hold: wait ${{ inputs.duration }}, extendable up to 72h\n") || !strings.Contains(out, "2. settle: wait 10m\n") {
		t.Fatalf("show: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, nil, "playbook", "graph", "--dir", dir, "my-block")
	if code != 0 || !strings.Contains(out, `s_hold(("hold<br/>wait ${{ inputs.duration }}, extendable up to 72h"))`) {
		t.Fatalf("graph: exit %d\n%s%s", code, out, errOut)
	}
}
