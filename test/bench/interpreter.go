package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows"
)

const benchQueue = "bench-interpreter"

// tenNoops is the hand-written baseline: the same ten activities, the same
// options, no interpreter.
func tenNoops(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ScheduleToCloseTimeout: 10 * time.Minute,
		StartToCloseTimeout:    10 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5},
	})
	var steps *activities.Steps
	for i := range 10 {
		id := fmt.Sprintf("s%d", i+1)
		var res activities.Result
		if err := workflow.ExecuteActivity(ctx, steps.ExecuteAction, activities.ActionInput{
			Action: "core.noop", StepID: id, IdempotencyKey: workflow.GetInfo(ctx).WorkflowExecution.ID + "/" + id,
		}).Get(ctx, &res); err != nil {
			return err
		}
	}
	return nil
}

func tenStepPlaybook(reg *activities.Registry) (*playbooks.Playbook, error) {
	var b strings.Builder
	b.WriteString("apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: ten-noops}\nsteps:\n")
	for i := range 10 {
		fmt.Fprintf(&b, "  - id: s%d\n    action: core.noop\n", i+1)
	}
	return playbooks.Parse([]byte(b.String()), "ten-noops.yaml", reg)
}

// benchInterpreter runs the 10-step playbook and the hand-written
// workflow alternately on one embedded server and one worker, and
// reports the ratio of their median durations.
func benchInterpreter(runs int) error {
	ctx := context.Background()
	tmp, bin, err := build(ctx)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	d, _, err := startReady(ctx, bin, filepath.Join(tmp, "data"))
	if err != nil {
		return err
	}
	defer func() { _ = d.Stop(30 * time.Second) }()
	c, err := benchClient(ctx, d.TemporalAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	reg, err := activities.NewRegistry(activities.CoreActions()...)
	if err != nil {
		return err
	}
	pb, err := tenStepPlaybook(reg)
	if err != nil {
		return err
	}
	w := worker.New(c, benchQueue, worker.Options{})
	w.RegisterWorkflow(workflows.PlaybookWorkflow)
	w.RegisterWorkflow(tenNoops)
	w.RegisterActivity(&activities.Steps{Registry: reg})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()

	timeOne := func(wf any, args ...any) (time.Duration, string, error) {
		t0 := time.Now()
		r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: benchQueue}, wf, args...)
		if err != nil {
			return 0, "", err
		}
		if err := r.Get(ctx, nil); err != nil {
			return 0, "", err
		}
		return time.Since(t0), r.GetID(), nil
	}
	var interp, hand []time.Duration
	var ids []string
	for i := range runs + 10 {
		a, id, err := timeOne(workflows.PlaybookWorkflow, workflows.PlaybookInput{Playbook: pb, Requester: "bench"})
		if err != nil {
			return err
		}
		b, _, err := timeOne(tenNoops)
		if err != nil {
			return err
		}
		if i >= 10 { // warm-up
			interp, hand = append(interp, a), append(hand, b)
			ids = append(ids, id)
		}
	}
	if err := historyGaps(ctx, c, ids, os.Stderr); err != nil {
		return err
	}
	mi, mh := pct(interp, 50), pct(hand, 50)
	fmt.Printf("| 10 no-op steps, median of %d (p95) | interpreter %s (%s), %s a step | hand-written %s (%s) | ratio %.3f | goal ≤ 1.15, ≤ 10 ms a step |\n",
		runs, ms(mi), ms(pct(interp, 95)), ms(mi/10), ms(mh), ms(pct(hand, 95)), float64(mi)/float64(mh))
	return nil
}
