package activities

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"sort"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// GroupResolver expands an approver group to the user IDs in it. Config
// backs it now; Slack user groups join in a later step.
type GroupResolver interface {
	Members(ctx context.Context, group string) ([]string, error)
}

// ErrUnknownGroup is what a GroupResolver wraps when the worker's
// configuration has no such group (access.groups). ResolveApprovers
// reports such groups instead of failing: a group nobody configured grants
// nobody, and the gate decides whether the others suffice.
var ErrUnknownGroup = errors.New("unknown approver group")

// StaticGroups resolves groups from configuration.
type StaticGroups map[string][]string

// Members implements GroupResolver.
func (g StaticGroups) Members(_ context.Context, group string) ([]string, error) {
	m, ok := g[group]
	if !ok {
		return nil, fmt.Errorf("%w %q (configure access.groups.%s)", ErrUnknownGroup, group, group)
	}
	return append([]string(nil), m...), nil
}

// Steps runs playbook steps' actions as Temporal activities. One activity
// type per phase (plan, execute) keeps workers generic; the action name
// travels in the input and the activity summary shows it in the UI.
type Steps struct {
	Registry *Registry
	Groups   GroupResolver
	// CLI is the worker's policy for CLI approvals; it is authoritative,
	// whatever a client's own configuration says.
	CLI CLIPolicy
}

// CLI approval modes, as access.cli.approvals spells them.
const (
	CLIApprovalsOne      = "one"      // unverified CLI votes count once per gate; the default
	CLIApprovalsVerified = "verified" // only signed CLI votes count
	CLIApprovalsForbid   = "forbid"   // no CLI approvals at all
)

// CLIPolicy is how far CLI votes are trusted.
type CLIPolicy struct {
	// Approvals is one of the CLIApprovals modes; empty means one.
	Approvals string
	// Keys are ed25519 public keys by Slack user ID: a CLI vote signed
	// with the matching private key counts as that user.
	Keys map[string]ed25519.PublicKey
}

// ActionInput is the input of PlanAction and ExecuteAction.
type ActionInput struct {
	Action         string         `json:"action"`
	StepID         string         `json:"step_id"`
	IdempotencyKey string         `json:"idempotency_key"`
	With           map[string]any `json:"with,omitempty"`
	// Attempt numbers the run's tries of this step from 1, when the run
	// retries it itself (one activity per attempt, so each shows on the
	// timeline); zero means Temporal's own attempt counter applies.
	Attempt int32 `json:"attempt,omitempty"`
	// Incident is the key of the incident the run serves ("" outside one);
	// AWS actions name their role sessions after it, for CloudTrail.
	Incident string `json:"incident,omitempty"`
	// Channel is the Slack channel the run reports to ("" for none), where
	// slack.post posts by default.
	Channel string `json:"channel,omitempty"`
	// Inherited marks inputs borrowed from another action (a compensation
	// without its own `with` gets its step's inputs): keys the action does
	// not declare are dropped instead of refused.
	Inherited bool `json:"inherited,omitempty"`
}

// ErrUnknownAction means the worker's registry lacks an action the
// playbook names (an older worker binary, say).
const ErrUnknownAction = "UnknownAction"

func (s *Steps) lookup(ctx context.Context, in ActionInput) (Action, Request, error) {
	a, ok := s.Registry.Get(in.Action)
	if !ok {
		return nil, Request{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("this worker has no action %q (is it older than the playbook?)", in.Action), ErrUnknownAction, nil)
	}
	with := in.With
	if in.Inherited {
		with = map[string]any{}
		for _, p := range a.Spec().Params {
			if v, ok := in.With[p.Name]; ok {
				with[p.Name] = v
			}
		}
	}
	info := activity.GetInfo(ctx)
	attempt := info.Attempt
	if in.Attempt > 0 {
		attempt = in.Attempt
	}
	return a, Request{
		Action:         in.Action,
		IdempotencyKey: in.IdempotencyKey,
		Incident:       in.Incident,
		Channel:        in.Channel,
		WorkflowID:     info.WorkflowExecution.ID,
		StepID:         in.StepID,
		Attempt:        attempt,
		With:           with,
	}, nil
}

// PlanAction describes what the step would change, read-only.
func (s *Steps) PlanAction(ctx context.Context, in ActionInput) (Plan, error) {
	a, req, err := s.lookup(ctx, in)
	if err != nil {
		return Plan{}, err
	}
	defer keepAlive(ctx)()
	p, err := a.Plan(ctx, req)
	if err != nil {
		return Plan{}, keepApplicationError("plan "+in.Action, err)
	}
	return p, nil
}

// ExecuteAction performs the step. While the action runs it heartbeats, so
// an abort reaches it as ctx's cancellation: an action that stops returns
// ctx's error (reported as cancelled, the step is not done); one that
// finishes anyway returns its result, and the run counts the step as done
// and compensates it.
func (s *Steps) ExecuteAction(ctx context.Context, in ActionInput) (Result, error) {
	a, req, err := s.lookup(ctx, in)
	if err != nil {
		return Result{}, err
	}
	defer keepAlive(ctx)()
	r, err := a.Execute(ctx, req)
	if err != nil {
		return Result{}, keepApplicationError(in.Action, err)
	}
	return r, nil
}

// ResolveApproversInput names the groups and users allowed to approve.
type ResolveApproversInput struct {
	Groups []string `json:"groups,omitempty"`
	Users  []string `json:"users,omitempty"`
	// KeyGroups may join the approvers later (the escalation group): their
	// members' CLI keys are returned too, without making them members.
	KeyGroups []string `json:"key_groups,omitempty"`
}

// ResolveApproversResult is the sorted, de-duplicated set of user IDs,
// with the worker's CLI policy for the gate.
type ResolveApproversResult struct {
	Members []string `json:"members"`
	// CLIApprovals is the worker's access.cli.approvals mode.
	CLIApprovals string `json:"cli_approvals,omitempty"`
	// UnknownGroups are the requested groups the worker has no
	// configuration for; they add nobody.
	UnknownGroups []string `json:"unknown_groups,omitempty"`
	// CLIKeys maps members (and KeyGroups members) that have a CLI key to
	// its raw 32-byte ed25519 public key, base64 (std). Public keys only:
	// the result lands in workflow history.
	CLIKeys map[string]string `json:"cli_keys,omitempty"`
}

// ResolveApprovers expands approver groups when an approval gate opens, so
// the workflow's update validator can check votes without I/O.
func (s *Steps) ResolveApprovers(ctx context.Context, in ResolveApproversInput) (ResolveApproversResult, error) {
	var unknown []string
	expand := func(groups, users []string) (map[string]bool, error) {
		set := map[string]bool{}
		for _, u := range users {
			set[u] = true
		}
		for _, g := range groups {
			if s.Groups == nil {
				unknown = append(unknown, g)
				continue
			}
			members, err := s.Groups.Members(ctx, g)
			if errors.Is(err, ErrUnknownGroup) {
				unknown = append(unknown, g)
				continue
			}
			if err != nil {
				return nil, err
			}
			for _, m := range members {
				set[m] = true
			}
		}
		return set, nil
	}
	set, err := expand(in.Groups, in.Users)
	if err != nil {
		return ResolveApproversResult{}, err
	}
	res := ResolveApproversResult{UnknownGroups: unknown, CLIApprovals: s.CLI.Approvals}
	// A group that may join later and does not resolve now fails when it
	// is needed (at escalation), as before; here it only lacks keys.
	later := map[string]bool{}
	for _, g := range in.KeyGroups {
		if m, err := expand([]string{g}, nil); err == nil {
			maps.Copy(later, m)
		}
	}
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	res.Members = out
	if res.CLIApprovals == "" {
		res.CLIApprovals = CLIApprovalsOne
	}
	for u, k := range s.CLI.Keys {
		if (set[u] || later[u]) && len(k) == ed25519.PublicKeySize {
			if res.CLIKeys == nil {
				res.CLIKeys = map[string]string{}
			}
			res.CLIKeys[u] = base64.StdEncoding.EncodeToString(k)
		}
	}
	return res, nil
}

// heartbeatEvery is how often a running action tells Temporal it is alive.
// The SDK sends at most one heartbeat per 80% of the heartbeat timeout;
// the server's answer to one is how a cancellation reaches the action.
const heartbeatEvery = 2 * time.Second

// keepAlive heartbeats until the returned stop is called: a crashed worker
// is noticed within the heartbeat timeout (not the step's whole timeout),
// and an abort cancels ctx. It keeps beating after a cancellation, since
// the action may still be finishing a change the run must learn about.
func keepAlive(ctx context.Context) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(heartbeatEvery)
		defer tick.Stop()
		for {
			activity.RecordHeartbeat(ctx)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

// keepApplicationError returns an action's ApplicationError unwrapped, so
// Temporal keeps its type and retryability (a bad input must not be
// retried); other errors get context and stay retryable.
func keepApplicationError(what string, err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
