package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	ftemporal "github.com/firebreak-ir/firebreak/integrations/temporal"
)

// How long the CLI waits, and for what. Nothing waits without a deadline
// except following a run, which prints what the run waits for.
const (
	// workerCheckWait bounds asking Temporal whether a worker polls.
	workerCheckWait = 5 * time.Second
	// callWait bounds one query or update: a worker answers in
	// milliseconds, so this only runs out when none is running it.
	callWait = 30 * time.Second
)

// noWorker is a client command that would wait forever: nothing polls the
// task queue its workflows run on.
type noWorker struct{ taskQueue string }

func (e noWorker) Error() string {
	return fmt.Sprintf("no worker is polling task queue %s; is `firebreak dev` or `firebreak worker` running? (workers poll the queue their TEMPORAL_TASK_QUEUE names)", e.taskQueue)
}

// requireWorker fails fast when no worker polls the configured task queue,
// before the command starts or asks anything it would then wait on. It
// asks the way /readyz does.
func requireWorker(ctx context.Context, s *stack) error {
	ctx, cancel := context.WithTimeout(ctx, workerCheckWait)
	defer cancel()
	tq := s.cfg.Temporal.TaskQueue
	err := ftemporal.CheckReady(ctx, s.client, s.cfg.Temporal.Namespace, tq)
	switch {
	case errors.Is(err, ftemporal.ErrNoWorker):
		return noWorker{taskQueue: tq}
	case err != nil:
		return fmt.Errorf("looking for a worker on task queue %s at %s: %w", tq, cmp.Or(s.cfg.Temporal.Address, ftemporal.DefaultAddress), err)
	}
	return nil
}

// withWorker is withClient for commands that need a worker to answer:
// queries, updates and new workflows.
func (g *globals) withWorker(cmd *cobra.Command, fn func(ctx context.Context, s *stack) error) error {
	return g.withClient(cmd, func(ctx context.Context, s *stack) error {
		if err := requireWorker(ctx, s); err != nil {
			return err
		}
		return fn(ctx, s)
	})
}

// timedOut turns a deadline of ctx that ran out into a sentence saying
// what the CLI waited for; other errors pass through. ctx is checked too:
// the SDK reports a deadline as a gRPC status, not context.DeadlineExceeded.
func timedOut(ctx context.Context, err error, what string, d time.Duration) error {
	if err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded)) {
		return fmt.Errorf("no answer within %s while waiting for %s (is a worker running it?): %w", d, what, err)
	}
	return err
}
