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
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	historypb "go.temporal.io/api/history/v1"

	"github.com/firebreak-ir/firebreak/activities"
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

// inputs are what each library playbook needs beyond its defaults.
var inputs = map[string]map[string]string{
	"incident-triage": {"service": "checkout", "severity": "sev2", "summary": "5xx on /pay"},
	"comms-checklist": {"headline": "Checkout errors: mitigating"},
}

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
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return err
	}
	dev, err := harness.StartDev(bin, filepath.Join(tmp, "data"), "FIREBREAK_CONFIG="+cfg)
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

	reg, err := activities.NewRegistry(activities.CoreActions()...)
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
		vals, err := playbooks.ResolveInputs(pb, inputs[pb.Metadata.Name])
		if err != nil {
			return fmt.Errorf("%s: %w", pb.Metadata.Name, err)
		}
		for _, mode := range []string{workflows.ModeRun, workflows.ModePlan} {
			id := pb.Metadata.Name
			if mode == workflows.ModePlan {
				id += ".plan"
			}
			if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "firebreak"},
				workflows.PlaybookWorkflow, workflows.PlaybookInput{
					Playbook: pb, Inputs: vals, Mode: mode, Requester: "U0REQ", Origin: "record",
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
	return nil
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
