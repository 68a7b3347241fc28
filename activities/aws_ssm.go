package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// ssmActions lists the SSM actions.
func (a *AWS) ssmActions() []Action {
	return []Action{a.ssmRunPatchBaseline(), a.ssmRunCommand()}
}

// SSMTargets chooses the instances an SSM command runs on, and how fast it spreads.
type SSMTargets struct {
	// InstanceIDs lists instances (at most 50, SendCommand's limit); or use Tag.
	InstanceIDs []string `json:"instance_ids,omitempty"`
	// Tag selects every instance SSM manages whose tag Key has one of Values.
	Tag SSMTag `json:"tag,omitempty"`
	// MaxConcurrency is how many instances run at once: "10" or "10%" (SSM's default: 50).
	MaxConcurrency string `json:"max_concurrency,omitempty"`
	// MaxErrors is how many failures SSM tolerates before it stops sending the command to more
	// instances: "2" or "5%" (SSM's default: 0, stop at the first).
	MaxErrors string `json:"max_errors,omitempty"`
}

// SSMTag is a tag target.
type SSMTag struct {
	Key    string   `json:"key,omitempty"`
	Values []string `json:"values,omitempty"`
}

// RunPatchBaselineInput is the input of aws.ssm.run_patch_baseline.
type RunPatchBaselineInput struct {
	AWSTarget
	SSMTargets
	// Operation is Install (default) or Scan.
	Operation string `json:"operation,omitempty"`
	// RebootOption is RebootIfNeeded (the document's default) or NoReboot.
	RebootOption string `json:"reboot_option,omitempty"`
}

// RunCommandInput is the input of aws.ssm.run_command.
type RunCommandInput struct {
	AWSTarget
	SSMTargets
	// DocumentName is a reviewed command document, e.g. AWS-RunShellScript, or its ARN.
	DocumentName string `json:"document_name" action:"required"`
	// Parameters are the document's parameters, e.g. {commands: ["systemctl restart app"]}.
	Parameters map[string][]string `json:"parameters,omitempty"`
}

const (
	patchDocument = "AWS-RunPatchBaseline"
	// ssmPollFirst and ssmPollMax bound the wait between polls of a running command: quick at
	// first (a small command is done in seconds), then doubling up to a pace that keeps a fleet's
	// patching far below ListCommands' rate limit.
	ssmPollFirst = 250 * time.Millisecond
	ssmPollMax   = 15 * time.Second
	// ssmOutputExcerpt bounds the output kept per instance: it travels in workflow history.
	ssmOutputExcerpt = 2048
	// ssmCommentPrefix marks the commands Firebreak sends; the idempotency hash follows it.
	ssmCommentPrefix = "firebreak "
)

// Error types of a command that ran but did not succeed.
const (
	ErrSSMMaxErrors       = "SSMMaxErrorsExceeded"
	ErrSSMCommandCanceled = "SSMCommandCancelled"
	ErrSSMNoInstances     = "SSMNoManagedInstances"
)

var (
	ssmInstanceIDRe     = regexp.MustCompile(`^(i-[0-9a-f]{8}([0-9a-f]{9})?|mi-[0-9a-f]{17})$`)
	ssmMaxConcurrencyRe = regexp.MustCompile(`^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$`)
	ssmMaxErrorsRe      = regexp.MustCompile(`^([1-9][0-9]*|0|[1-9][0-9]%|[0-9]%|100%)$`)
	ssmDocumentRe       = regexp.MustCompile(`^([a-zA-Z0-9_\-.]{3,128}|arn:aws[a-z-]*:ssm:[a-z0-9-]*:\d*:document/[a-zA-Z0-9_\-.]{3,128})$`)
)

// ssmPermissions are what sending a command and following it take; documents are the ARNs of
// the documents the action may send.
func ssmPermissions(documents ...string) Permissions {
	var p []IAMPermission
	for _, d := range documents {
		p = append(p, IAMPermission{Action: "ssm:SendCommand", Resource: d})
	}
	p = append(p,
		IAMPermission{Action: "ssm:SendCommand", Resource: "arn:aws:ec2:*:*:instance/*"},
		IAMPermission{Action: "ssm:SendCommand", Resource: "arn:aws:ssm:*:*:managed-instance/*"},
		// These have no resource-level permissions in IAM.
		IAMPermission{Action: "ssm:DescribeInstanceInformation", Resource: "*"},
		IAMPermission{Action: "ssm:ListCommands", Resource: "*"},
		IAMPermission{Action: "ssm:ListCommandInvocations", Resource: "*"},
	)
	return Permissions{IAM: p}
}

func (a *AWS) ssmRunPatchBaseline() Action {
	const name = "aws.ssm.run_patch_baseline"
	perms := ssmPermissions("arn:aws:ssm:*::document/" + patchDocument)
	// The counts come from the patch state each instance reports, not from the command's output:
	// SSM cuts that output off before the summary AWS-RunPatchBaseline prints at its end.
	perms.IAM = append(perms.IAM, IAMPermission{Action: "ssm:DescribeInstancePatchStates", Resource: "*"})
	command := func(in RunPatchBaselineInput) (ssmCommandSpec, error) {
		op := in.Operation
		if op == "" {
			op = "Install"
		}
		if op != "Install" && op != "Scan" {
			return ssmCommandSpec{}, badInput(name, "operation: %q, want Install or Scan", in.Operation)
		}
		params := map[string][]string{"Operation": {op}}
		what := fmt.Sprintf("%s (%s", patchDocument, op)
		switch in.RebootOption {
		case "":
		case "RebootIfNeeded", "NoReboot":
			params["RebootOption"] = []string{in.RebootOption}
			what += ", " + in.RebootOption
		default:
			return ssmCommandSpec{}, badInput(name, "reboot_option: %q, want RebootIfNeeded or NoReboot", in.RebootOption)
		}
		return newSSMCommand(name, in.AWSTarget, in.SSMTargets, patchDocument, params, what+")")
	}
	return ssmDef(a, name, "Patch instances (by ID or by tag) with AWS-RunPatchBaseline through SSM Run Command, "+
		"max_concurrency at a time, stopping when failures exceed max_errors; waits for every instance "+
		"and reports its status and installed/failed/not-applicable/missing patch counts.", perms, command,
		func(ctx context.Context, run *ssmRunState) error {
			return run.addPatchCounts(ctx, run.spec.params["Operation"][0])
		})
}

func (a *AWS) ssmRunCommand() Action {
	const name = "aws.ssm.run_command"
	command := func(in RunCommandInput) (ssmCommandSpec, error) {
		if !ssmDocumentRe.MatchString(in.DocumentName) {
			return ssmCommandSpec{}, badInput(name, "document_name: %q is not an SSM document name or ARN", in.DocumentName)
		}
		return newSSMCommand(name, in.AWSTarget, in.SSMTargets, in.DocumentName, in.Parameters, in.DocumentName)
	}
	return ssmDef(a, name, "Run a reviewed SSM command document (e.g. AWS-RunShellScript) on instances by ID or tag, "+
		"max_concurrency at a time, stopping when failures exceed max_errors; reports each instance's status "+
		"and the first 2 KB of its output. It runs arbitrary code as root: playbooks must put an approval on "+
		"this step, and the document must not print secrets (the output excerpt lands in the run's history).",
		ssmPermissions("arn:aws:ssm:*:*:document/*", "arn:aws:ssm:*::document/*"), command,
		func(_ context.Context, run *ssmRunState) error {
			run.addOutputs()
			return nil
		})
}

// ssmDef builds an SSM action from how its input becomes a command and what it adds to the
// outputs once the command succeeded.
func ssmDef[In any](a *AWS, name, description string, perms Permissions, command func(In) (ssmCommandSpec, error),
	finish func(context.Context, *ssmRunState) error) Action {
	return Def[In]{
		Name:        name,
		Description: description,
		Permissions: perms,
		PlanFunc: func(ctx context.Context, req Request, in In) (Plan, error) {
			c, err := command(in)
			if err != nil {
				return Plan{}, err
			}
			return a.ssmPlan(ctx, req, c)
		},
		ExecuteFunc: func(ctx context.Context, req Request, in In) (Result, error) {
			c, err := command(in)
			if err != nil {
				return Result{}, err
			}
			run, err := a.ssmRun(ctx, req, c)
			if err == nil {
				err = finish(ctx, run)
			}
			return run.result(), err
		},
	}
}

// ssmCommandSpec is a validated command to send.
type ssmCommandSpec struct {
	action   string
	where    AWSTarget
	targets  SSMTargets
	document string
	params   map[string][]string
	what     string // the document and its salient parameters, for summaries
}

func newSSMCommand(action string, where AWSTarget, t SSMTargets, document string, params map[string][]string, what string) (ssmCommandSpec, error) {
	c := ssmCommandSpec{action: action, where: where, document: document, params: params, what: what}
	byTag := t.Tag.Key != "" || len(t.Tag.Values) > 0
	switch {
	case len(t.InstanceIDs) > 0 && byTag:
		return c, badInput(action, "give instance_ids or tag, not both")
	case len(t.InstanceIDs) == 0 && !byTag:
		return c, badInput(action, "give instance_ids or a tag {key, values} to choose the instances")
	case byTag && (t.Tag.Key == "" || len(t.Tag.Key) > 128 || len(t.Tag.Values) == 0 || len(t.Tag.Values) > 50):
		return c, badInput(action, "tag: want a key (at most 128 characters) and 1 to 50 values")
	case len(t.InstanceIDs) > 50:
		return c, badInput(action, "instance_ids: %d instances, SendCommand takes at most 50 (use a tag target for more)", len(t.InstanceIDs))
	case t.MaxConcurrency != "" && !ssmMaxConcurrencyRe.MatchString(t.MaxConcurrency):
		return c, badInput(action, "max_concurrency: %q, want a count (\"10\") or a percentage (\"10%%\") of at least 1", t.MaxConcurrency)
	case t.MaxErrors != "" && !ssmMaxErrorsRe.MatchString(t.MaxErrors):
		return c, badInput(action, "max_errors: %q, want a count (\"0\", \"2\") or a percentage (\"5%%\")", t.MaxErrors)
	}
	c.targets = t
	c.targets.InstanceIDs = nil
	for _, id := range t.InstanceIDs {
		if !ssmInstanceIDRe.MatchString(id) {
			return c, badInput(action, "instance_ids: %q is not an instance ID (i-0123456789abcdef0, or mi-… for a hybrid node)", id)
		}
		if !slices.Contains(c.targets.InstanceIDs, id) {
			c.targets.InstanceIDs = append(c.targets.InstanceIDs, id)
		}
	}
	return c, nil
}

// rate describes the rate controls for a summary.
func (c ssmCommandSpec) rate() string {
	conc, errs := c.targets.MaxConcurrency, c.targets.MaxErrors
	if conc == "" {
		conc = "50 (SSM's default)"
	}
	if errs == "" {
		errs = "0 (SSM's default)"
	}
	return fmt.Sprintf("max_concurrency %s, max_errors %s", conc, errs)
}

func (c ssmCommandSpec) tagText() string {
	return fmt.Sprintf("%s=%s", c.targets.Tag.Key, strings.Join(c.targets.Tag.Values, "|"))
}

// managed lists the instances SSM manages among the targets (read-only).
func (c ssmCommandSpec) managed(ctx context.Context, client *ssm.Client) ([]ssmtypes.InstanceInformation, error) {
	filter := ssmtypes.InstanceInformationStringFilter{Key: awssdk.String("InstanceIds"), Values: c.targets.InstanceIDs}
	if len(c.targets.InstanceIDs) == 0 {
		filter = ssmtypes.InstanceInformationStringFilter{Key: awssdk.String("tag:" + c.targets.Tag.Key), Values: c.targets.Tag.Values}
	}
	var out []ssmtypes.InstanceInformation
	pages := ssm.NewDescribeInstanceInformationPaginator(client, &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{filter}, MaxResults: awssdk.Int32(50)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, awsFailure(err)
		}
		out = append(out, page.InstanceInformationList...)
	}
	return out, nil
}

func (a *AWS) ssmPlan(ctx context.Context, req Request, c ssmCommandSpec) (Plan, error) {
	sess, err := a.session(ctx, req, c.where)
	if err != nil {
		return Plan{}, err
	}
	managed, err := c.managed(ctx, ssm.NewFromConfig(sess.Config))
	if err != nil {
		return Plan{}, err
	}
	var p Plan
	var ids []string
	for _, m := range managed {
		id := awssdk.ToString(m.InstanceId)
		ids = append(ids, id)
		line := fmt.Sprintf("run %s on %s (%s, %s)", c.what, id, awssdk.ToString(m.PlatformName), m.PingStatus)
		if m.PingStatus != ssmtypes.PingStatusOnline {
			line += ": its agent is not online, so the command may not be delivered"
		}
		p.Changes = append(p.Changes, line)
	}
	var unmanaged []string
	for _, id := range c.targets.InstanceIDs {
		if !slices.Contains(ids, id) {
			unmanaged = append(unmanaged, id)
			p.Changes = append(p.Changes, fmt.Sprintf("%s is not managed by SSM in %s: SendCommand would refuse the whole command", id, sess.Config.Region))
		}
	}
	switch {
	case len(unmanaged) > 0:
		p.Summary = fmt.Sprintf("cannot run %s: SSM in %s does not manage %s (it manages %d of the %d instances given)",
			c.what, sess.Config.Region, strings.Join(unmanaged, ", "), len(ids), len(c.targets.InstanceIDs))
	case len(ids) == 0:
		p.Summary = fmt.Sprintf("nothing to run: SSM in %s manages no instance tagged %s", sess.Config.Region, c.tagText())
	default:
		chosen := ""
		if len(c.targets.InstanceIDs) == 0 {
			chosen = " tagged " + c.tagText()
		}
		p.Summary = fmt.Sprintf("run %s on %d SSM-managed instances%s in %s (%s): %s",
			c.what, len(ids), chosen, sess.Config.Region, c.rate(), strings.Join(ids, ", "))
	}
	return p, nil
}

// ssmRunState is a command that was sent (or found sent) and followed to its end.
type ssmRunState struct {
	spec        ssmCommandSpec
	sess        *awsSession
	client      *ssm.Client
	command     ssmtypes.Command
	invocations []ssmtypes.CommandInvocation
	// instances holds the per-instance outputs, by instance ID.
	instances map[string]map[string]any
	summary   string
}

// comment is what the command carries so that a retry of the step finds it: SendCommand takes
// no client token. The hash keeps it within the 100 characters SSM allows.
func (c ssmCommandSpec) comment(req Request) string {
	sum := sha256.Sum256([]byte(req.IdempotencyKey))
	s := ssmCommentPrefix + hex.EncodeToString(sum[:16]) + " " + strings.Trim(req.Incident+" "+req.StepID, " ")
	if len(s) > 100 {
		s = s[:100]
	}
	return strings.ToValidUTF8(s, "")
}

// ssmRun sends the command once per idempotency key (a retry finds the command an earlier
// attempt sent and follows that one), waits for it to end and reads every invocation. A command
// that SSM stopped because failures exceeded MaxErrors, or that was cancelled, is an error that
// names the instances.
func (a *AWS) ssmRun(ctx context.Context, req Request, c ssmCommandSpec) (*ssmRunState, error) {
	run := &ssmRunState{spec: c, instances: map[string]map[string]any{}}
	sess, err := a.session(ctx, req, c.where)
	if err != nil {
		return run, err
	}
	run.sess, run.client = sess, ssm.NewFromConfig(sess.Config)
	comment := c.comment(req)
	id, err := run.find(ctx, comment)
	if err != nil {
		return run, err
	}
	if id == "" {
		if id, err = run.send(ctx, comment); err != nil {
			return run, err
		}
	}
	if err := run.wait(ctx, id); err != nil {
		return run, err
	}
	return run, run.collect(ctx)
}

// find returns the ID of the command an earlier attempt of this step sent, or "".
func (r *ssmRunState) find(ctx context.Context, comment string) (string, error) {
	key := comment[:len(ssmCommentPrefix)+32]
	pages := ssm.NewListCommandsPaginator(r.client, &ssm.ListCommandsInput{MaxResults: awssdk.Int32(50),
		Filters: []ssmtypes.CommandFilter{{Key: ssmtypes.CommandFilterKeyDocumentName, Value: &r.spec.document}}})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", awsFailure(err)
		}
		for _, cmd := range page.Commands {
			if strings.HasPrefix(awssdk.ToString(cmd.Comment), key) {
				return awssdk.ToString(cmd.CommandId), nil
			}
		}
	}
	return "", nil
}

func (r *ssmRunState) send(ctx context.Context, comment string) (string, error) {
	t := r.spec.targets
	in := &ssm.SendCommandInput{DocumentName: &r.spec.document, Parameters: r.spec.params, Comment: &comment,
		InstanceIds: t.InstanceIDs}
	if t.MaxConcurrency != "" {
		in.MaxConcurrency = &t.MaxConcurrency
	}
	if t.MaxErrors != "" {
		in.MaxErrors = &t.MaxErrors
	}
	if len(t.InstanceIDs) == 0 {
		// A tag target lets SSM pace the whole fleet with MaxConcurrency; first make sure it
		// selects someone, since a command that matches nobody "succeeds" silently.
		managed, err := r.spec.managed(ctx, r.client)
		if err != nil {
			return "", err
		}
		if len(managed) == 0 {
			return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: SSM in %s manages no instance tagged %s; nothing was sent",
				r.spec.action, r.sess.Config.Region, r.spec.tagText()), ErrSSMNoInstances, nil)
		}
		in.Targets = []ssmtypes.Target{{Key: awssdk.String("tag:" + t.Tag.Key), Values: t.Tag.Values}}
	}
	out, err := r.client.SendCommand(ctx, in)
	if err != nil {
		return "", awsFailure(err)
	}
	return awssdk.ToString(out.Command.CommandId), nil
}

// ssmProgress is the heartbeat of a step waiting on a command.
type ssmProgress struct {
	CommandID string `json:"command_id"`
	Status    string `json:"status"`
	Completed int32  `json:"completed"`
	Targets   int32  `json:"targets"`
}

// wait polls the command until it ends, backing off between polls.
func (r *ssmRunState) wait(ctx context.Context, id string) error {
	delay := ssmPollFirst
	for {
		out, err := r.client.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: &id})
		if err != nil {
			return awsFailure(err)
		}
		// A command just sent may not be listed yet (SSM is eventually consistent): poll again.
		if len(out.Commands) == 1 {
			r.command = out.Commands[0]
			switch r.command.Status {
			case ssmtypes.CommandStatusSuccess, ssmtypes.CommandStatusFailed, ssmtypes.CommandStatusTimedOut, ssmtypes.CommandStatusCancelled:
				return nil
			}
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, ssmProgress{CommandID: id, Status: string(r.command.Status),
				Completed: r.command.CompletedCount, Targets: r.command.TargetCount})
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			// The command keeps running in SSM; a retry of the step finds it and waits on.
			return fmt.Errorf("%s: waiting for command %s: %w", r.spec.action, id, ctx.Err())
		case <-timer.C:
		}
		delay = min(2*delay, ssmPollMax)
	}
}

// collect reads every invocation of the ended command and decides the step's outcome.
func (r *ssmRunState) collect(ctx context.Context) error {
	id := awssdk.ToString(r.command.CommandId)
	pages := ssm.NewListCommandInvocationsPaginator(r.client, &ssm.ListCommandInvocationsInput{CommandId: &id, Details: true, MaxResults: awssdk.Int32(50)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return awsFailure(err)
		}
		r.invocations = append(r.invocations, page.CommandInvocations...)
	}
	var ok, failed, notRun []string
	for _, inv := range r.invocations {
		iid, details := awssdk.ToString(inv.InstanceId), awssdk.ToString(inv.StatusDetails)
		r.instances[iid] = map[string]any{"status": string(inv.Status), "status_details": details}
		switch {
		case inv.Status == ssmtypes.CommandInvocationStatusSuccess:
			ok = append(ok, iid)
		case details == "Terminated" || inv.Status == ssmtypes.CommandInvocationStatusPending:
			notRun = append(notRun, iid)
		default:
			failed = append(failed, fmt.Sprintf("%s (%s)", iid, details))
		}
	}
	listing := func() string {
		s := fmt.Sprintf("succeeded: %s; failed: %s", ssmListOrNone(ok), ssmListOrNone(failed))
		if len(notRun) > 0 {
			s += "; not run: " + strings.Join(notRun, ", ")
		}
		return s
	}
	details := awssdk.ToString(r.command.StatusDetails)
	switch {
	case r.command.Status == ssmtypes.CommandStatusCancelled:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: command %s was cancelled; %s", r.spec.action, id, listing()), ErrSSMCommandCanceled, nil)
	case r.command.Status != ssmtypes.CommandStatusSuccess && details != "Incomplete":
		// SSM stopped sending the command: failures exceeded MaxErrors. Retrying would only find
		// this command again; what to do next is a responder's decision.
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: command %s stopped (%s) after failures exceeded max_errors %s; %s",
			r.spec.action, id, details, awssdk.ToString(r.command.MaxErrors), listing()), ErrSSMMaxErrors, nil)
	}
	r.summary = fmt.Sprintf("ran %s on %d instances (command %s): %s", r.spec.what, len(r.invocations), id, listing())
	return nil
}

func ssmListOrNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// addPatchCounts adds each instance's patch counts from the patch state this run left, when
// the instance has reported it; a state older than the command is not this run's, and is left
// out rather than passed off as its result.
func (r *ssmRunState) addPatchCounts(ctx context.Context, operation string) error {
	var ids []string
	for id := range r.instances {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	sent := awssdk.ToTime(r.command.RequestedDateTime)
	var installed, failed, reported int
	for chunk := range slices.Chunk(ids, 50) {
		pages := ssm.NewDescribeInstancePatchStatesPaginator(r.client, &ssm.DescribeInstancePatchStatesInput{InstanceIds: chunk})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return awsFailure(err)
			}
			for _, s := range page.InstancePatchStates {
				out, ok := r.instances[awssdk.ToString(s.InstanceId)]
				if !ok || string(s.Operation) != operation || awssdk.ToTime(s.OperationEndTime).Before(sent) {
					continue
				}
				out["installed"], out["failed"] = int(s.InstalledCount), int(s.FailedCount)
				out["not_applicable"], out["missing"] = int(s.NotApplicableCount), int(s.MissingCount)
				installed, failed, reported = installed+int(s.InstalledCount), failed+int(s.FailedCount), reported+1
			}
		}
	}
	r.summary += fmt.Sprintf("; patches installed: %d, failed: %d (counts from %d of %d instances)", installed, failed, reported, len(ids))
	return nil
}

// addOutputs adds each instance's response code and the start of its output.
func (r *ssmRunState) addOutputs() {
	for _, inv := range r.invocations {
		var b strings.Builder
		code := 0
		for i, p := range inv.CommandPlugins {
			if i > 0 {
				b.WriteString("\n")
			}
			if len(inv.CommandPlugins) > 1 {
				b.WriteString("[" + awssdk.ToString(p.Name) + "]\n")
			}
			b.WriteString(awssdk.ToString(p.Output))
			if p.ResponseCode != 0 && code == 0 {
				code = int(p.ResponseCode)
			}
		}
		text, cut := ssmExcerpt(b.String(), ssmOutputExcerpt)
		out := r.instances[awssdk.ToString(inv.InstanceId)]
		out["response_code"], out["output"], out["output_truncated"] = code, text, cut
	}
}

// ssmExcerpt returns the first n bytes of s, cut at a character boundary.
func ssmExcerpt(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

func (r *ssmRunState) result() Result {
	res := Result{Summary: r.summary}
	if r.sess != nil {
		res.RequestIDs = r.sess.RequestIDs()
	}
	if r.command.CommandId == nil {
		return res
	}
	res.Resource = awssdk.ToString(r.command.CommandId)
	instances := map[string]any{}
	var ok, notOK []any
	for id, out := range r.instances {
		instances[id] = out
		if out["status"] == string(ssmtypes.CommandInvocationStatusSuccess) {
			ok = append(ok, id)
		} else {
			notOK = append(notOK, id)
		}
	}
	sortAny := func(l []any) []any {
		slices.SortFunc(l, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
		return append([]any{}, l...)
	}
	res.Outputs = map[string]any{"command_id": res.Resource, "status": string(r.command.Status),
		"status_details": awssdk.ToString(r.command.StatusDetails), "instances": instances,
		"succeeded": sortAny(ok), "not_succeeded": sortAny(notOK)}
	return res
}
