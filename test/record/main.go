// Command record re-records the workflow histories that
// workflows/replay_test.go replays: one run (and one plan) of every
// shipped playbook against a real `firebreak dev`, with every human part
// played by harness.Driver. Re-record after changing a playbook in the
// library, or after an intentional change to workflow code that breaks
// replay (and then think hard about running workflows: see the README):
//
//	go run ./test/record
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/test/harness"
	"github.com/firebreak-ir/firebreak/workflows"
)

// config gives the library's approver groups members the driver can act as.
const config = `access:
  groups:
    oncall: [U0ONCALL]
    incident-commanders: [U0IC1, U0IC2]
    engineering-managers: [U0EM]
    comms-leads: [U0CL1, U0CL2]
`

// inputs are what each library playbook needs beyond its defaults; w is the AWS world the AWS
// playbooks act in.
func inputs(playbook string, w harness.AWSWorld) map[string]string {
	return map[string]map[string]string{
		"incident-triage": {"service": "checkout", "severity": "sev2", "summary": "5xx on /pay"},
		"comms-checklist": {"headline": "Checkout errors: mitigating"},
		// The driver never approves as the requester, so the drill names its approver.
		"rollback-drill":             {"approvers": "U0ONCALL"},
		"ec2-compromise-containment": {"instance_id": w.Instance, "account": "prod"},
		"aws-access-key-compromise":  {"access_key_id": w.LeakedKey, "account": "prod", "deny_all": "true"},
		// A short block, so the recording runs the timer and the unblock.
		"web-attack-block": {"ip_set_arn": w.IPSet, "addresses": "203.0.113.50, 203.0.113.51", "duration": "3s"},
		"emergency-patch":  {"tag_values": "web", "canary": w.Canary, "vulnerability": "CVE-2026-0001"},
	}[playbook]
}

// recordChannel is where runs of playbooks that post (slack.post) report.
const recordChannel = "C0RECORD"

func main() {
	out := flag.String("out", "workflows/testdata", "directory for the history files")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp("", "firebreak-record")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := harness.Build(ctx, tmp)
	if err != nil {
		return err
	}
	cfg := filepath.Join(tmp, "firebreak.yaml")
	if err := os.WriteFile(cfg, []byte(config+harness.AWSConfig()), 0o600); err != nil {
		return err
	}
	// Slack is a fake, so the incident's channel, summary and the runs'
	// status messages are part of the recording.
	fake := slackfake.New()
	defer fake.Close()
	fake.AddChannel(recordChannel, "record", slackfake.Members(fake.BotUserID()))
	// The AWS playbooks act in awsfake's world.
	aws := awsfake.New()
	defer aws.Close()
	world := harness.SeedAWS(aws)
	awsEnv, err := harness.AWSEnv(aws, tmp, "record-secret")
	if err != nil {
		return err
	}
	for _, u := range []string{"U0REQ", "U0ONCALL", "U0IC1", "U0IC2", "U0EM", "U0CL1", "U0CL2", "U0DRIVER"} {
		fake.AddUser(u, strings.ToLower(u))
	}
	dev, err := harness.StartDev(bin, filepath.Join(tmp, "data"), append([]string{"FIREBREAK_CONFIG=" + cfg,
		"SLACK_BOT_TOKEN=" + slackfake.DefaultBotToken, "SLACK_SIGNING_SECRET=record", "SLACK_API_URL=" + fake.URL()}, awsEnv...)...)
	if err != nil {
		return err
	}
	defer func() { _ = dev.Stop(30 * time.Second) }()
	if err := dev.WaitReady(ctx, dev.URL("/readyz")); err != nil {
		return err
	}
	c, err := client.Dial(client.Options{HostPort: dev.TemporalAddr})
	if err != nil {
		return err
	}
	defer c.Close()

	reg, err := activities.NewRegistry(slices.Concat(activities.CoreActions(), activities.AWSActions(nil), activities.SlackActions(nil))...)
	if err != nil {
		return err
	}
	lib, err := playbooks.Library(reg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	d := &harness.Driver{Client: c, MaxWait: 10 * time.Second, Actor: "U0DRIVER", Poll: 100 * time.Millisecond}
	for _, pb := range lib {
		vals, err := playbooks.ResolveInputs(pb, inputs(pb.Metadata.Name, world))
		if err != nil {
			return fmt.Errorf("%s: %w", pb.Metadata.Name, err)
		}
		// Runs that post report to a channel, and votes come from it.
		var runSlack *workflows.RunSlack
		d.Channel = ""
		if posts(pb) {
			runSlack, d.Channel = &workflows.RunSlack{Channel: recordChannel}, recordChannel
		}
		for _, mode := range []string{workflows.ModeRun, workflows.ModePlan} {
			id := pb.Metadata.Name
			if mode == workflows.ModePlan {
				id += ".plan"
			}
			if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "firebreak"},
				workflows.PlaybookWorkflow, workflows.PlaybookInput{
					Playbook: pb, Inputs: vals, Mode: mode, Requester: "U0REQ", Origin: "record", Slack: runSlack,
				}); err != nil {
				return fmt.Errorf("start %s: %w", id, err)
			}
			driven, err := d.Drive(ctx, id)
			if err != nil {
				return fmt.Errorf("drive %s: %w", id, err)
			}
			for _, wid := range driven {
				file := filepath.Join(out, strings.ReplaceAll(wid, "/", "--")+".json")
				if err := saveHistory(ctx, c, wid, file); err != nil {
					return err
				}
				fmt.Println("recorded", file)
			}
		}
	}
	d.Channel = ""
	return recordIncident(ctx, c, d, fake, lib, out)
}

// posts says whether pb has a slack.post step, which needs the run to report to a channel.
func posts(pb *playbooks.Playbook) bool {
	for _, s := range pb.Steps {
		if s.Action == "slack.post" {
			return true
		}
	}
	return false
}

// recordIncident records an incident declared with Slack that runs the
// rollback drill (approval, rollback) and is then resolved.
func recordIncident(ctx context.Context, c client.Client, d *harness.Driver, fake *slackfake.Server, lib []*playbooks.Playbook, out string) error {
	var drill *playbooks.Playbook
	for _, pb := range lib {
		if pb.Metadata.Name == "rollback-drill" {
			drill = pb
		}
	}
	vals, err := playbooks.ResolveInputs(drill, inputs("rollback-drill", harness.AWSWorld{}))
	if err != nil {
		return err
	}
	// Declares are signals to the registry (as the bot and the CLI send
	// them); the registry's declared query gives the key.
	req := workflows.DeclareRequest{Title: "Recorded drill", Severity: "SEV2", DeclaredBy: "U0REQ", Origin: "record",
		RequestID: "record-1", Slack: &workflows.IncidentSlack{Invite: []string{"U0IC1"}, Suggested: []string{"rollback-drill"}}}
	if _, err := c.SignalWithStartWorkflow(ctx, workflows.RegistryWorkflowID, workflows.SignalDeclare, req,
		client.StartWorkflowOptions{ID: workflows.RegistryWorkflowID, TaskQueue: "firebreak"},
		workflows.IncidentRegistryWorkflow, workflows.RegistryInput{}); err != nil {
		return fmt.Errorf("declare: %w", err)
	}
	var decl workflows.DeclareResult
	for decl.Key == "" {
		v, err := c.QueryWorkflow(ctx, workflows.RegistryWorkflowID, "", workflows.QueryDeclared, req.RequestID)
		if err == nil {
			err = v.Get(&decl)
		}
		if err == nil && decl.Error != "" {
			return fmt.Errorf("declare: %s", decl.Error)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("declare: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	// Wait for the channel, so the run reports to Slack.
	for {
		v, err := c.QueryWorkflow(ctx, decl.WorkflowID, "", workflows.QueryStatus)
		var st workflows.IncidentState
		if err == nil && v.Get(&st) == nil && st.SummaryTS != "" {
			// Votes on the incident's run come from its channel.
			d.Channel = st.Channel
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	update := func(name string, arg, result any) error {
		uh, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: decl.WorkflowID, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return uh.Get(ctx, result)
	}
	if err := update(workflows.UpdateSetRole, workflows.ChangeRequest{Actor: "U0REQ", Role: workflows.RoleCommander, User: "U0IC1"}, nil); err != nil {
		return err
	}
	var ref workflows.RunRef
	if err := update(workflows.UpdateRunPlaybook, workflows.RunRequest{Playbook: drill, Inputs: vals, Actor: "U0REQ", Origin: "record", RequestID: "rec"}, &ref); err != nil {
		return err
	}
	if _, err := d.Drive(ctx, ref.ID); err != nil {
		return fmt.Errorf("drive %s: %w", ref.ID, err)
	}
	// The run reports back by signal; resolve once the incident has it.
	for {
		err := update(workflows.UpdateResolve, workflows.ChangeRequest{Actor: "U0IC1", Text: "drill complete"}, nil)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("resolve: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := c.GetWorkflow(ctx, decl.WorkflowID, "").Get(ctx, nil); err != nil {
		return fmt.Errorf("incident: %w", err)
	}
	for _, wid := range []string{decl.WorkflowID, ref.ID} {
		file := filepath.Join(out, strings.ReplaceAll(wid, "/", "--")+".json")
		if err := saveHistory(ctx, c, wid, file); err != nil {
			return err
		}
		fmt.Println("recorded", file)
	}
	if n := len(fake.Messages(firstChannel(fake))); n < 3 {
		return fmt.Errorf("expected the summary, plan and status in Slack, found %d messages", n)
	}
	return nil
}

func firstChannel(fake *slackfake.Server) string {
	for _, ch := range fake.Channels() {
		if strings.HasPrefix(ch.Name, "inc-") {
			return ch.ID
		}
	}
	return ""
}

func saveHistory(ctx context.Context, c client.Client, id, file string) error {
	h := &historypb.History{}
	iter := c.GetWorkflowHistory(ctx, id, "", false, 0)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			return fmt.Errorf("history of %s: %w", id, err)
		}
		h.Events = append(h.Events, e)
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(h)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}
