package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-ir/firebreak/workflows"
)

func newPingCommand(g *globals) *cobra.Command {
	var message string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "ping",
		Short: "Run the built-in Ping workflow to prove client, server and worker work together",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := withTimeout(cmd, timeout)
			defer cancel()
			s, err := g.connect(ctx, cmd)
			if err != nil {
				return err
			}
			defer func() { _ = s.stop() }()
			if err := requireWorker(ctx, s); err != nil {
				return err
			}
			run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				TaskQueue: s.cfg.Temporal.TaskQueue,
			}, workflows.PingWorkflow, workflows.PingInput{Message: message})
			if err != nil {
				return fmt.Errorf("start ping workflow: %w", err)
			}
			var res workflows.PingResult
			if err := run.Get(ctx, &res); err != nil {
				return fmt.Errorf("ping workflow %s: %w", run.GetID(), timedOut(ctx, err, "a worker on task queue "+s.cfg.Temporal.TaskQueue+" to run it", timeout))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (workflow %s, worker %s)\n", res.Reply, run.GetID(), res.WorkerID)
			return nil
		},
	}
	cmd.Flags().StringVar(&message, "message", "hello", "text to echo")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}
