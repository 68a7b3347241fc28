package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/firebreak-ir/firebreak/workflows"
)

// exitDetached is the exit status after Ctrl-C stops following a run: the
// shell's usual 128+SIGINT, since the command did not finish its job.
const exitDetached = 130

// detached: following a run was interrupted; the run itself goes on.
type detached struct{ id string }

func (e detached) Error() string {
	return fmt.Sprintf("stopped following run %s; it goes on without you. Follow it again with: firebreak playbook watch %s", e.id, e.id)
}

// followAndReport follows run id to its end and reports its result, as
// `playbook run` does. Ctrl-C (or SIGTERM) stops following, not the run,
// and says how to follow it again.
func followAndReport(cmd *cobra.Command, s *stack, id string, every time.Duration, jsonOut bool) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := cmd.OutOrStdout()
	res, err := follow(ctx, s.client, s.client.GetWorkflow(ctx, id, ""), out, every, jsonOut)
	if err != nil {
		if ctx.Err() != nil && cmd.Context().Err() == nil {
			return detached{id: id}
		}
		return err
	}
	return report(out, res, jsonOut)
}

func newWatchCommand(g *globals) *cobra.Command {
	var (
		jsonOut   bool
		pollEvery time.Duration
	)
	cmd := &cobra.Command{
		Use:   "watch RUN_ID",
		Short: "Follow a run that is already going (or print a finished one), as run does",
		Long: `watch prints a run's timeline so far and then each event as it happens, with
the commands that approve its steps or finish its tasks, until the run ends.
Ctrl-C stops watching, not the run. Exit status as for run: 0 when the run
succeeded (or planned), 1 when it failed, was rejected or aborted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withWorker(cmd, func(ctx context.Context, s *stack) error {
				st, err := queryStatus(ctx, s.client, args[0])
				if err != nil {
					return err
				}
				if !jsonOut {
					fmt.Fprintf(cmd.OutOrStdout(), "run %s of %s, requested by %s: %s\n", args[0], st.Playbook, st.Requester, st.Status)
				}
				return followAndReport(cmd, s, args[0], pollEvery, jsonOut)
			})
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the final result as JSON instead of progress")
	cmd.Flags().DurationVar(&pollEvery, "poll", 300*time.Millisecond, "how often to fetch new timeline events")
	return cmd
}

// runRow is one line of `playbook runs`.
type runRow struct {
	Playbook  string    `json:"playbook"`
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Mode      string    `json:"mode"`
	Requester string    `json:"requester"`
	Started   time.Time `json:"started"`
	Incident  string    `json:"incident,omitempty"`
}

// runStatuses are what --status takes: a run's own outcome, what
// Temporal says of a run that ended otherwise, and completed for any end.
func runStatuses() []string {
	return []string{workflows.RunRunning, workflows.RunSucceeded, workflows.RunFailed, workflows.RunRejected, workflows.RunAborted,
		workflows.RunPlanned, "terminated", "timed-out", "canceled", "completed"}
}

// maxRunsScanned bounds how many runs --playbook and --status look through
// (newest first): neither is a search attribute, so they filter here.
const maxRunsScanned = 1000

func newRunsCommand(g *globals) *cobra.Command {
	var (
		status, playbook string
		limit            int
		jsonOut          bool
	)
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List recent playbook runs, newest first: playbook, run ID, status, requester, start, incident",
		Long: fmt.Sprintf(`runs lists playbook runs from Temporal's visibility store, newest first, with
what each run was started with (read from its history, so no worker is
needed). --status and --playbook filter; as neither is a search attribute,
they look through the newest %d runs at most.

--status takes running, succeeded, failed, rejected, aborted, planned, the
ways Temporal ends a run from outside (terminated, timed-out, canceled), or
completed for any run that has ended.`, maxRunsScanned),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			status = strings.ToLower(status)
			if status != "" && !slices.Contains(runStatuses(), status) {
				return usageError{fmt.Errorf("--status %q: use one of %s", status, strings.Join(runStatuses(), ", "))}
			}
			if limit < 1 {
				return usageError{fmt.Errorf("--limit %d: want 1 or more", limit)}
			}
			query := "WorkflowType = 'PlaybookWorkflow'"
			switch status {
			case "":
			case workflows.RunRunning:
				query += " AND ExecutionStatus = 'Running'"
			default:
				query += " AND ExecutionStatus != 'Running'"
			}
			return g.withClient(cmd, func(ctx context.Context, s *stack) error {
				rows, err := listRuns(ctx, s, query, status, playbook, limit)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if jsonOut {
					return writeIndentedJSON(out, rows)
				}
				if len(rows) == 0 {
					fmt.Fprintln(out, "no runs")
					return nil
				}
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "PLAYBOOK\tRUN ID\tSTATUS\tREQUESTER\tSTARTED\tINCIDENT")
				for _, r := range rows {
					st := r.Status
					if r.Mode == workflows.ModePlan && st == workflows.RunRunning {
						st = "planning"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Playbook, r.ID, st, r.Requester, r.Started.Local().Format(time.DateTime), r.Incident)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only runs with this status (running, succeeded, failed, rejected, aborted, planned, completed, ...)")
	cmd.Flags().StringVar(&playbook, "playbook", "", "only runs of this playbook")
	cmd.Flags().IntVar(&limit, "limit", 20, "list at most this many runs")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print a JSON array")
	return cmd
}

// listRuns pages through visibility newest first until limit runs match.
func listRuns(ctx context.Context, s *stack, query, status, playbook string, limit int) ([]runRow, error) {
	ctx, cancel := context.WithTimeout(ctx, callWait)
	defer cancel()
	rows := []runRow{}
	var token []byte
	scanned := 0
	for len(rows) < limit && scanned < maxRunsScanned {
		resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: s.cfg.Temporal.Namespace, Query: query, PageSize: int32(min(100, maxRunsScanned-scanned)), NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", timedOut(ctx, err, "Temporal's list of runs", callWait))
		}
		for _, e := range resp.GetExecutions() {
			scanned++
			var in workflows.PlaybookInput
			if err := startInput(ctx, s.client, s.cfg.Temporal.Namespace, e.GetExecution(), &in); err != nil {
				return nil, fmt.Errorf("list runs: %w", err)
			}
			r := runRow{ID: e.GetExecution().GetWorkflowId(), Status: workflows.RunRunning, Mode: in.Mode, Requester: in.Requester, Started: e.GetStartTime().AsTime()}
			if in.Playbook != nil {
				r.Playbook = in.Playbook.Metadata.Name
			}
			if key, ok := in.Incident["key"].(string); ok {
				r.Incident = key
			}
			if playbook != "" && r.Playbook != playbook {
				continue
			}
			if e.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				if r.Status, err = closedStatus(ctx, s, e.GetExecution(), e.GetStatus()); err != nil {
					return nil, err
				}
			}
			if !statusMatches(r.Status, status) {
				continue
			}
			rows = append(rows, r)
			if len(rows) == limit {
				break
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	return rows, nil
}

// closedStatus is how a run ended: its own result's status when it
// completed, else Temporal's word (failed, terminated, timed-out, ...).
func closedStatus(ctx context.Context, s *stack, exec *commonpb.WorkflowExecution, st enumspb.WorkflowExecutionStatus) (string, error) {
	if st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		name := strings.ToLower(strings.TrimPrefix(st.String(), "WORKFLOW_EXECUTION_STATUS_"))
		return strings.ReplaceAll(name, "_", "-"), nil
	}
	var res struct {
		Status string `json:"status"`
	}
	ok, err := closeResult(ctx, s.client, s.cfg.Temporal.Namespace, exec, &res)
	if err != nil {
		return "", fmt.Errorf("list runs: %w", err)
	}
	if !ok || res.Status == "" {
		return "completed", nil
	}
	return res.Status, nil
}

func statusMatches(got, want string) bool {
	switch want {
	case "":
		return true
	case "completed":
		return got != workflows.RunRunning
	}
	return got == want
}
