package main

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"github.com/firebreak-ir/firebreak/integrations/config"
	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows"
)

// runFailed is a run that ended without succeeding: exit 1, message printed.
type runFailed struct{ status, msg string }

func (e runFailed) Error() string { return fmt.Sprintf("run %s: %s", e.status, e.msg) }

// connect loads configuration for a client command and dials Temporal.
func (g *globals) connect(ctx context.Context, cmd *cobra.Command) (*stack, error) {
	cfg, err := g.load(config.ModeClient)
	if err != nil {
		return nil, err
	}
	s, err := newStack(cfg, newLogger(cfg.Log, cmd.ErrOrStderr()))
	if err != nil {
		return nil, err
	}
	if err := s.dial(ctx); err != nil {
		_ = s.stop()
		return nil, err
	}
	return s, nil
}

// withClient runs fn with a connected stack and closes it afterwards.
func (g *globals) withClient(cmd *cobra.Command, fn func(ctx context.Context, s *stack) error) error {
	s, err := g.connect(cmd.Context(), cmd)
	if err != nil {
		return err
	}
	defer func() { _ = s.stop() }()
	return fn(cmd.Context(), s)
}

// requester is who the CLI acts as: --as, else $FIREBREAK_USER, else $USER.
// The CLI trusts this claim; Temporal access is its security boundary
// (Slack, by contrast, verifies who clicked).
func (g *globals) requester(as string) string {
	for _, v := range []string{as, g.getenv("FIREBREAK_USER"), g.getenv("USER")} {
		if v != "" {
			return v
		}
	}
	return "cli"
}

// addRunCommands adds run and the commands that steer a run.
func addRunCommands(cmd *cobra.Command, g *globals, f *playbookFlags) {
	cmd.AddCommand(
		newRunCommand(g, f),
		newWatchCommand(g),
		newRunsCommand(g),
		newStatusCommand(g),
		newTimelineCommand(g, "timeline RUN_ID", "Print a run's timeline", func(id string) string { return id }),
		newVoteCommand(g, true),
		newVoteCommand(g, false),
		newCompleteCommand(g),
		newExtendCommand(g),
		newSignalCommand(g),
		newAbortCommand(g),
	)
}

func newRunCommand(g *globals, f *playbookFlags) *cobra.Command {
	var (
		inputs    []string
		plan      bool
		as, id    string
		detach    bool
		jsonOut   bool
		pollEvery time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run NAME [--input k=v ...]",
		Short: "Run a playbook (or --plan it) and follow it step by step",
		Long: `run starts the playbook on Temporal (firebreak dev, or TEMPORAL_ADDRESS) and
prints each timeline event as it happens. Approval steps print the plan and
the command that approves it. Ctrl-C stops following, not the run, and
prints how to follow it again (playbook watch). Exit status: 0 when the run succeeds (or the
plan is ready), 1 when it fails, is rejected or aborted (or no worker
polls the task queue), 2 for bad input, 130 after Ctrl-C.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completePlaybookNames(g, f),
		RunE: func(cmd *cobra.Command, args []string) error {
			pb, vals, err := resolveRun(cmd, g, f, args[0], inputs)
			if err != nil {
				return err
			}
			return g.withWorker(cmd, func(ctx context.Context, s *stack) error {
				mode := workflows.ModeRun
				if plan {
					mode = workflows.ModePlan
				}
				if id == "" {
					id = fmt.Sprintf("playbook-%s-%s", pb.Metadata.Name, time.Now().UTC().Format("20060102-150405.000"))
				}
				in := workflows.PlaybookInput{Playbook: pb, Inputs: vals, Mode: mode, Requester: g.requester(as), Origin: "cli"}
				run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
					ID: id, TaskQueue: s.cfg.Temporal.TaskQueue,
				}, workflows.PlaybookWorkflow, in)
				if err != nil {
					return fmt.Errorf("start %s: %w", pb.Metadata.Name, err)
				}
				out := cmd.OutOrStdout()
				if detach {
					fmt.Fprintln(out, run.GetID())
					return nil
				}
				if !jsonOut {
					fmt.Fprintf(out, "run %s of %s (%s mode) started as %s\n", run.GetID(), pb.Metadata.Name, mode, in.Requester)
				}
				return followAndReport(cmd, s, run.GetID(), pollEvery, jsonOut)
			})
		},
	}
	cmd.Flags().StringArrayVarP(&inputs, "input", "i", nil, "playbook input as key=value (repeatable)")
	cmd.Flags().BoolVar(&plan, "plan", false, "describe every step and change nothing")
	cmd.Flags().StringVar(&as, "as", "", "who is running it (default $FIREBREAK_USER or $USER)")
	cmd.Flags().StringVar(&id, "id", "", "workflow ID for the run (default playbook-NAME-TIMESTAMP)")
	cmd.Flags().BoolVar(&detach, "detach", false, "print the run ID and return without following")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the final result as JSON instead of progress")
	cmd.Flags().DurationVar(&pollEvery, "poll", 300*time.Millisecond, "how often to fetch new timeline events")
	return cmd
}

// follow prints new timeline events until the run finishes.
func follow(ctx context.Context, c client.Client, run client.WorkflowRun, out io.Writer, every time.Duration, quiet bool) (workflows.PlaybookResult, error) {
	done := make(chan error, 1)
	var res workflows.PlaybookResult
	go func() { done <- run.Get(ctx, &res) }()
	seen := 0
	printNew := func() {
		ev, err := queryTimeline(ctx, c, run.GetID())
		if err != nil || quiet {
			return
		}
		for _, e := range ev[min(seen, len(ev)):] {
			printEvent(out, e)
			if e.Kind == workflows.EventApprovalRequested {
				printApprovalHint(ctx, c, out, run.GetID(), e.Step)
			}
			if e.Kind == workflows.EventTaskAssigned {
				fmt.Fprintf(out, "    finish it: firebreak playbook complete %s %s --as USER\n", run.GetID(), e.Step)
			}
			if e.Kind == workflows.EventWaitStarted && strings.Contains(e.Detail, "extendable up to") {
				fmt.Fprintf(out, "    extend it: firebreak playbook extend %s %s DURATION --reason TEXT\n", run.GetID(), e.Step)
			}
		}
		seen = max(seen, len(ev))
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			printNew()
			if err != nil {
				return res, fmt.Errorf("run %s: %w", run.GetID(), err)
			}
			return res, nil
		case <-tick.C:
			printNew()
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
}

func queryTimeline(ctx context.Context, c client.Client, id string) ([]workflows.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, callWait)
	defer cancel()
	v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryTimeline)
	if err != nil {
		return nil, timedOut(ctx, err, "the timeline of "+id, callWait)
	}
	var ev []workflows.Event
	return ev, v.Get(&ev)
}

func queryStatus(ctx context.Context, c client.Client, id string) (workflows.RunStatus, error) {
	var st workflows.RunStatus
	ctx, cancel := context.WithTimeout(ctx, callWait)
	defer cancel()
	v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	if err != nil {
		return st, fmt.Errorf("status of %s: %w", id, timedOut(ctx, err, "the status of "+id, callWait))
	}
	return st, v.Get(&st)
}

func printEvent(out io.Writer, e workflows.Event) {
	line := fmt.Sprintf("%s  %-22s", e.Time.Local().Format("15:04:05"), e.Kind)
	if e.Step != "" {
		line += "  " + e.Step
	}
	if e.Actor != workflows.SystemActor {
		line += "  by " + e.Actor
	}
	if e.Outcome != "" {
		line += "  [" + e.Outcome + "]"
	}
	if e.Detail != "" {
		line += "  " + e.Detail
	}
	fmt.Fprintln(out, line)
}

func printApprovalHint(ctx context.Context, c client.Client, out io.Writer, id, step string) {
	st, err := queryStatus(ctx, c, id)
	if err != nil {
		return
	}
	for _, s := range st.Steps {
		if s.ID != step || s.Approval == nil {
			continue
		}
		a := s.Approval
		fmt.Fprintf(out, "    plan: %s\n", a.Plan.Summary)
		for _, ch := range a.Plan.Changes {
			fmt.Fprintf(out, "      - %s\n", ch)
		}
		fmt.Fprintf(out, "    needs %d approval(s) from %s\n", a.Min, strings.Join(a.Eligible, ", "))
		as := "USER"
		if len(a.Eligible) == 1 {
			as = a.Eligible[0]
		}
		fmt.Fprintf(out, "    approve: firebreak playbook approve %s %s --plan-hash %s --as %s\n", id, step, a.PlanHash, as)
	}
}

func report(out io.Writer, res workflows.PlaybookResult, jsonOut bool) error {
	if jsonOut {
		if err := writeIndentedJSON(out, res); err != nil {
			return err
		}
	} else if res.Plan != nil {
		fmt.Fprintf(out, "\nplan for %s (hash %s):\n", res.Playbook, res.Plan.Hash)
		for _, s := range res.Plan.Steps {
			line := fmt.Sprintf("  %-24s %s", s.ID, s.Summary)
			if a := s.Approval; a != nil {
				// The plan's note names whom a users expression gave; the
				// expression itself is for show, not for the plan line.
				if a.UsersFrom != "" {
					evaluated := *a
					evaluated.UsersFrom = "approval.users (named below)"
					a = &evaluated
				}
				line += fmt.Sprintf("  (approval: %d from %s)", max(a.Min, 1), approvalWho(a))
			}
			fmt.Fprintln(out, line)
			for _, ch := range s.Changes {
				fmt.Fprintf(out, "  %-24s   - %s\n", "", ch)
			}
			if s.Note != "" {
				fmt.Fprintf(out, "  %-24s   (%s)\n", "", s.Note)
			}
		}
	} else {
		fmt.Fprintf(out, "\n%s %s\n", res.Playbook, res.Status)
		for _, s := range res.Steps {
			fmt.Fprintf(out, "  %-24s %-20s %s\n", s.ID, s.Status, cmp.Or(s.Error, s.Summary))
		}
	}
	switch res.Status {
	case workflows.RunSucceeded, workflows.RunPlanned:
		return nil
	default:
		return runFailed{status: res.Status, msg: res.Error}
	}
}

func approvalWho(a *playbooks.Approval) string {
	who := append([]string(nil), a.Users...)
	if a.UsersFrom != "" {
		who = append(who, a.UsersFrom)
	}
	if a.Group != "" {
		who = append([]string{"group " + a.Group}, who...)
	}
	return strings.Join(who, ", ")
}

func newStatusCommand(g *globals) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "status RUN_ID",
		Short: "Show a run's steps, open approvals (with plan hashes) and tasks",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withWorker(cmd, func(ctx context.Context, s *stack) error {
				st, err := queryStatus(ctx, s.client, args[0])
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if jsonOut {
					return writeIndentedJSON(out, st)
				}
				fmt.Fprintf(out, "%s: %s (requested by %s)\n", st.Playbook, st.Status, st.Requester)
				for _, step := range st.Steps {
					fmt.Fprintf(out, "  %-24s %-20s %s\n", step.ID, step.Status, cmp.Or(step.Error, step.Task, step.Summary))
					if step.Status == workflows.StepWaiting && !step.Until.IsZero() {
						fmt.Fprintf(out, "  %-24s   %s\n", "", waitEnd(args[0], step))
					}
					if a := step.Approval; a != nil && a.Open {
						fmt.Fprintf(out, "  %-24s   plan %s: %s; %d of %d approvals; approvers: %s\n", "", a.PlanHash, a.Plan.Summary, len(a.Approvers), a.Min, strings.Join(a.Eligible, ", "))
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	return cmd
}

// waitEnd says when a timed wait ends and, if it can be extended, how far
// and how.
func waitEnd(run string, st workflows.StepState) string {
	s := "until " + st.Until.UTC().Format(time.RFC3339)
	if st.Extendable {
		s += fmt.Sprintf("; extendable up to %s: firebreak playbook extend %s %s DURATION", st.Latest.UTC().Format(time.RFC3339), run, st.ID)
	}
	return s
}

// newTimelineCommand prints the timeline of the workflow that arg names
// (a run ID, or an incident key through workflowID).
func newTimelineCommand(g *globals, use, short string, workflowID func(arg string) string) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withWorker(cmd, func(ctx context.Context, s *stack) error {
				ev, err := queryTimeline(ctx, s.client, workflowID(args[0]))
				if err != nil {
					return fmt.Errorf("timeline of %s: %w", args[0], err)
				}
				if jsonOut {
					return writeIndentedJSON(cmd.OutOrStdout(), ev)
				}
				for _, e := range ev {
					printEvent(cmd.OutOrStdout(), e)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	return cmd
}

// update sends a workflow update and waits for its result; a validator's
// refusal comes back as an error carrying the reason.
func update(ctx context.Context, c client.Client, id, name string, arg, result any) error {
	if err := sendUpdate(ctx, c, id, name, arg, result); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	return nil
}

// sendUpdate is update without the workflow ID in its errors.
func sendUpdate(ctx context.Context, c client.Client, id, name string, arg, result any) error {
	ctx, cancel := context.WithTimeout(ctx, callWait)
	defer cancel()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, result)
	}
	if err != nil {
		return timedOut(ctx, refused(err), fmt.Sprintf("workflow %s to take the %s update", id, name), callWait)
	}
	return nil
}

// refused strips Temporal's wrapping so the validator's sentence shows.
func refused(err error) error {
	var appErr interface{ Message() string }
	if errors.As(err, &appErr) {
		return errors.New("refused: " + appErr.Message())
	}
	return err
}

func newVoteCommand(g *globals, approve bool) *cobra.Command {
	var as, hash, comment, keyFile string
	use, short := "approve RUN_ID STEP --plan-hash HASH", "Approve a step's plan (the hash `status` shows)"
	if !approve {
		use, short = "reject RUN_ID STEP", "Reject a step; the run stops (and rolls back if the playbook says so)"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

Without --key, the vote is cast as --as (default $FIREBREAK_USER or $USER):
a claim that only your Temporal access backs. Firebreak marks it as an
unverified CLI identity and counts at most one such approval per gate
(access.cli.approvals in the worker's firebreak.yaml can refuse them).

With --key FILE (or FIREBREAK_CLI_KEY), the vote is signed with that
OpenSSH ed25519 private key and counts as the Slack user whose public key
the worker's access.cli.keys lists; --as names that user (default: the user
your own firebreak.yaml lists for the key, else $FIREBREAK_USER).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if approve && hash == "" {
				return usageError{errors.New("--plan-hash is required: approve exactly the plan you reviewed (see `firebreak playbook status`)")}
			}
			keyFile = cmp.Or(keyFile, g.getenv("FIREBREAK_CLI_KEY"))
			var key ed25519.PrivateKey
			if keyFile != "" {
				var err error
				if key, err = readCLIKey(keyFile, cmd.InOrStdin(), cmd.ErrOrStderr()); err != nil {
					return usageError{err}
				}
			}
			return g.withWorker(cmd, func(ctx context.Context, s *stack) error {
				if hash != "" {
					st, err := queryStatus(ctx, s.client, args[0])
					if err != nil {
						return err
					}
					if hash, err = resolvePlanHash(st, args[0], args[1], hash); err != nil {
						return err
					}
				}
				v := workflows.Vote{
					StepID: args[1], Approver: g.requester(as), PlanHash: hash, Approve: approve, Comment: comment, Origin: "cli",
				}
				if key != nil {
					user, err := keyUser(as, g.getenv("FIREBREAK_USER"), key, s.cfg.Access.CLI)
					if err != nil {
						return usageError{err}
					}
					v.Approver = user
					if err := signVote(ctx, s.client, args[0], key, &v); err != nil {
						return err
					}
				}
				var res workflows.VoteResult
				if err := update(ctx, s.client, args[0], workflows.UpdateApprove, v, &res); err != nil {
					return err
				}
				switch {
				case res.Rejected:
					fmt.Fprintf(cmd.OutOrStdout(), "rejected step %s\n", res.StepID)
				case res.Released:
					fmt.Fprintf(cmd.OutOrStdout(), "approved step %s (%d of %d: %s); it runs now\n", res.StepID, res.Approvals, res.Needed, strings.Join(res.Approvers, ", "))
				default:
					fmt.Fprintf(cmd.OutOrStdout(), "approved step %s (%d of %d: %s)\n", res.StepID, res.Approvals, res.Needed, strings.Join(res.Approvers, ", "))
				}
				switch res.Identity {
				case workflows.IdentityCLIClaim:
					fmt.Fprintf(cmd.ErrOrStderr(), "note: voted as %s, an unverified CLI identity (only your Temporal access backs it); sign with --key FILE to vote as a verified user\n", v.Approver)
				case workflows.IdentityCLIKey:
					fmt.Fprintf(cmd.ErrOrStderr(), "voted as %s, verified by your CLI key\n", v.Approver)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&as, "as", "", "who is voting (default $FIREBREAK_USER or $USER; with --key, the Slack user ID the key belongs to)")
	if approve {
		cmd.Flags().StringVar(&comment, "comment", "", "a note for the timeline (also --reason)")
		aliasFlag(cmd, "reason", "comment")
	} else {
		cmd.Flags().StringVar(&comment, "reason", "", "why, for the timeline (also --comment)")
		aliasFlag(cmd, "comment", "reason")
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "sign the vote with this OpenSSH ed25519 private key (env FIREBREAK_CLI_KEY)")
	if approve {
		cmd.Flags().StringVar(&hash, "plan-hash", "", "hash of the plan you reviewed, or its first 8 or more characters (as the timeline shows)")
	}
	return cmd
}

// minPlanHashPrefix is the shortest --plan-hash accepted: 32 bits, so a
// prefix does not match another plan by accident.
const minPlanHashPrefix = 8

// resolvePlanHash turns the --plan-hash given for step of run (a prefix
// of the open gate's hash, at least minPlanHashPrefix hex characters, as
// the timeline shows 12) into the full hash the vote must carry and sign.
// Without an open gate it returns given as it is: the run's validator
// then says why the step takes no vote.
func resolvePlanHash(st workflows.RunStatus, run, step, given string) (string, error) {
	var current string
	for _, s := range st.Steps {
		if s.ID == step && s.Approval != nil && s.Approval.Open {
			current = s.Approval.PlanHash
		}
	}
	if current == "" {
		return given, nil
	}
	short := current[:min(12, len(current))]
	if len(given) < minPlanHashPrefix {
		return "", usageError{fmt.Errorf("--plan-hash %q is too short: give at least %d characters of step %s's plan hash (now %s; `firebreak playbook status %s` shows the plan)", given, minPlanHashPrefix, step, short, run)}
	}
	if len(given) == len(current) && given != current {
		// A full hash: the run's validator refuses it with its own reason.
		return given, nil
	}
	if !strings.HasPrefix(current, strings.ToLower(given)) {
		return "", fmt.Errorf("--plan-hash %s does not match step %s's plan, now %s: it changed since it was shown, or the hash is mistyped; review it with `firebreak playbook status %s`", given, step, short, run)
	}
	return current, nil
}

// readCLIKey reads an OpenSSH ed25519 private key, asking for its
// passphrase on the terminal when it has one.
func readCLIKey(path string, in io.Reader, prompt io.Writer) (ed25519.PrivateKey, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	raw, err := ssh.ParseRawPrivateKey(pemBytes)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		f, ok := in.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil, fmt.Errorf("--key %s is protected by a passphrase, and there is no terminal to ask for it", path)
		}
		fmt.Fprintf(prompt, "passphrase for %s: ", path)
		pass, perr := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if perr != nil {
			return nil, fmt.Errorf("--key %s: read passphrase: %w", path, perr)
		}
		raw, err = ssh.ParseRawPrivateKeyWithPassphrase(pemBytes, pass)
	}
	if err != nil {
		return nil, fmt.Errorf("--key %s: want an OpenSSH ed25519 private key (ssh-keygen -t ed25519): %w", path, err)
	}
	switch k := raw.(type) {
	case *ed25519.PrivateKey:
		return *k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("--key %s: want an ed25519 key, got %T (ssh-keygen -t ed25519 makes one)", path, raw)
	}
}

// keyUser is the Slack user a signed vote is cast as: --as, else the user
// whose access.cli.keys entry in the local configuration is this key, else
// $FIREBREAK_USER. The worker's configuration decides whether the key
// really is theirs.
func keyUser(as, envUser string, key ed25519.PrivateKey, cli config.CLI) (string, error) {
	if as != "" {
		return as, nil
	}
	pub := key.Public().(ed25519.PublicKey)
	for user, k := range cli.PublicKeys() {
		if pub.Equal(k) {
			return user, nil
		}
	}
	if envUser != "" {
		return envUser, nil
	}
	return "", errors.New("--key: pass --as with your Slack user ID (the user whose access.cli.keys entry holds this key's public half; `ssh-keygen -y -f FILE` prints it)")
}

// signVote binds v to the run's current execution and signs it with key
// (see workflows.SignedVoteMessage).
func signVote(ctx context.Context, c client.Client, id string, key ed25519.PrivateKey, v *workflows.Vote) error {
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	v.SignedAt = time.Now().UTC()
	msg := workflows.SignedVoteMessage(id, desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(), *v)
	v.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))
	return nil
}

func newCompleteCommand(g *globals) *cobra.Command {
	var as, note string
	cmd := &cobra.Command{
		Use:   "complete RUN_ID STEP",
		Short: "Mark a manual task done",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withWorker(cmd, func(ctx context.Context, s *stack) error {
				var st workflows.StepState
				if err := update(ctx, s.client, args[0], workflows.UpdateCompleteTask, workflows.TaskCompletion{
					StepID: args[1], Actor: g.requester(as), Note: note, Origin: "cli",
				}, &st); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "task %s %s\n", st.ID, st.Summary)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&as, "as", "", "who did it (default $FIREBREAK_USER or $USER)")
	cmd.Flags().StringVar(&note, "note", "", "a note for the timeline")
	return cmd
}

func newExtendCommand(g *globals) *cobra.Command {
	var as, reason string
	cmd := &cobra.Command{
		Use:   "extend RUN_ID STEP DURATION",
		Short: "Make an extendable wait last longer (DURATION: 24h, 2d, or seconds)",
		Long: `extend moves the end of a waiting step that sets wait.extendable later by
DURATION (24h, 1d12h, or a number of seconds), up to the step's wait.max from
when it started. The run refuses a step that is not waiting or not
extendable, and an end past wait.max (saying the latest end allowed): exit 1.`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A typo is a usage error, found before dialing; the run judges the rest.
			by, err := workflows.ParseExtension(args[2])
			if err != nil {
				return usageError{fmt.Errorf("DURATION %q: %w", args[2], err)}
			}
			if by <= 0 {
				return usageError{fmt.Errorf("DURATION %q: an extension must be positive", args[2])}
			}
			return g.withWorker(cmd, func(ctx context.Context, s *stack) error {
				return extendWait(ctx, s.client, cmd.OutOrStdout(), args[0], workflows.WaitExtension{
					StepID: args[1], By: args[2], Actor: g.requester(as), Reason: reason, Origin: "cli",
				})
			})
		},
	}
	cmd.Flags().StringVar(&as, "as", "", "who extends it (default $FIREBREAK_USER or $USER)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the timeline")
	return cmd
}

// extendWait sends the extend_wait update and says where the wait now ends.
func extendWait(ctx context.Context, c client.Client, out io.Writer, run string, x workflows.WaitExtension) error {
	var res workflows.WaitExtended
	if err := update(ctx, c, run, workflows.UpdateExtendWait, x, &res); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s extended by %s: it now ends at %s (at the latest %s)\n", res.StepID, res.By,
		res.Until.UTC().Format(time.RFC3339), res.Latest.UTC().Format(time.RFC3339))
	return nil
}

func newSignalCommand(g *globals) *cobra.Command {
	var as string
	cmd := &cobra.Command{
		Use:   "signal RUN_ID NAME",
		Short: "Release `wait: {signal: NAME}` steps",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withWorker(cmd, func(ctx context.Context, s *stack) error {
				if err := s.client.SignalWorkflow(ctx, args[0], "", workflows.SignalResume, workflows.Resume{
					Name: args[1], Actor: g.requester(as), Origin: "cli",
				}); err != nil {
					return fmt.Errorf("signal %s: %w", args[0], err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "sent %s to %s\n", args[1], args[0])
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&as, "as", "", "who sent it (default $FIREBREAK_USER or $USER)")
	return cmd
}

func newAbortCommand(g *globals) *cobra.Command {
	var as, reason string
	cmd := &cobra.Command{
		Use:   "abort RUN_ID",
		Short: "Abort a run between or during steps (rolling back if the playbook says so)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withWorker(cmd, func(ctx context.Context, s *stack) error {
				var state string
				if err := update(ctx, s.client, args[0], workflows.UpdateAbort, workflows.AbortRequest{
					Actor: g.requester(as), Reason: reason, Origin: "cli",
				}, &state); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", args[0], state)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&as, "as", "", "who aborts (default $FIREBREAK_USER or $USER)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the timeline (also --comment)")
	aliasFlag(cmd, "comment", "reason")
	return cmd
}

// aliasFlag makes --alias another name for cmd's --name, so reject and
// abort take the same words (--reason, --comment) and old scripts keep
// working.
func aliasFlag(cmd *cobra.Command, alias, name string) {
	cmd.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, n string) pflag.NormalizedName {
		if n == alias {
			n = name
		}
		return pflag.NormalizedName(n)
	})
}
