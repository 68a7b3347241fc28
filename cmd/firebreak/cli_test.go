package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/activities"
)

// TestUnknownSubcommandExitsTwo: a typo below the top level fails like
// one at the top level, with cobra's suggestion, instead of printing help
// and exiting 0.
func TestUnknownSubcommandExitsTwo(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		command string
		suggest string
	}{
		{[]string{"playbook", "rn"}, `unknown command "rn" for "firebreak playbook"`, "run"},
		{[]string{"playbook", "aprove", "run-1"}, `unknown command "aprove" for "firebreak playbook"`, "approve"},
		{[]string{"incident", "decalre", "x"}, `unknown command "decalre" for "firebreak incident"`, "declare"},
		{[]string{"completion", "bsh"}, `unknown command "bsh" for "firebreak completion"`, "bash"},
		{[]string{"nosuch"}, `unknown command "nosuch" for "firebreak"`, ""},
	} {
		code, out, errOut := runCLI(t, nil, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.command) || !strings.Contains(errOut, "Did you mean this?\n\t"+tc.suggest) && tc.suggest != "" {
			t.Errorf("%v: exit %d, want %d with %q and suggestion %q; stderr:\n%s", tc.args, code, exitUsage, tc.command, tc.suggest, errOut)
		}
		if out != "" {
			t.Errorf("%v: printed on stdout:\n%s", tc.args, out)
		}
	}
	// A group on its own still shows its help.
	if code, out, _ := runCLI(t, nil, "incident"); code != 0 || !strings.Contains(out, "Available Commands:") {
		t.Errorf("incident alone: exit %d\n%s", code, out)
	}
}

func TestVersionString(t *testing.T) {
	deps := []*debug.Module{{Path: "go.temporal.io/sdk", Version: "v1.50.0"}, {Path: "go.temporal.io/server", Version: "v1.32.1"}}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want []string
		not  []string
	}{
		{"tagged module", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Deps: deps, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}}},
			[]string{"firebreak v1.2.3 (", "temporal sdk v1.50.0", "embedded server v1.32.1"}, []string{"dev", "0123456789ab"}},
		{"git checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Deps: deps, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-11-25T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}},
			[]string{"firebreak dev-0123456789ab (committed 2026-11-25T10:00:00Z, with uncommitted changes, go"}, []string{"(devel)"}},
		{"clean checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}},
			[]string{"firebreak dev-abc (go"}, []string{"uncommitted"}},
		{"-buildvcs=false", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Deps: deps},
			[]string{"firebreak dev (go"}, []string{"(devel)"}},
		{"no build info", nil, []string{"firebreak dev (go", "temporal sdk ?"}, nil},
	} {
		got := versionString(tc.bi)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: %q has %q", tc.name, got, n)
			}
		}
	}
}

// TestReasonAndCommentAreOneFlag: reject and abort take the same flag
// names, the old ones included.
func TestReasonAndCommentAreOneFlag(t *testing.T) {
	root := newRootCommand(func(string) string { return "" })
	for _, path := range [][]string{{"playbook", "reject"}, {"playbook", "abort"}, {"playbook", "approve"}} {
		cmd, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"reason", "comment"} {
			if err := cmd.Flags().Set(name, "because "+name); err != nil {
				t.Errorf("%v --%s: %v", path, name, err)
				continue
			}
			if got := cmd.Flags().Lookup(name).Value.String(); got != "because "+name {
				t.Errorf("%v --%s: value %q", path, name, got)
			}
		}
	}
}

func TestActions(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "actions", "--json")
	var got []actionInfo
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("actions --json: exit %d\n%s%s", code, out, errOut)
	}
	reg, err := actionRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(reg.Specs()) {
		t.Fatalf("%d actions listed, %d registered", len(got), len(reg.Specs()))
	}
	byName := map[string]actionInfo{}
	for _, a := range got {
		byName[a.Name] = a
	}
	logAction := byName["core.log"]
	if len(logAction.Params) != 2 || logAction.Params[0] != (actionParam{Name: "message", Type: "string", Required: true}) ||
		logAction.Params[1].Name != "level" || logAction.Params[1].Required || logAction.Params[1].Default != "" {
		t.Errorf("core.log params: %+v", logAction.Params)
	}
	code, text, _ := runCLI(t, nil, "playbook", "actions")
	for _, want := range []string{"core.log\n", "    message  string  required", `level    string  optional, default ""`, "core.noop\n", "parameters: none", "permissions: none"} {
		if code != 0 || !strings.Contains(text, want) {
			t.Errorf("playbook actions: exit %d, lacks %q:\n%s", code, want, text)
		}
	}
}

// TestActionsShowPermissions: declared permissions of every kind appear.
func TestActionsShowPermissions(t *testing.T) {
	var b strings.Builder
	err := writeActions(&b, []actionInfo{{Name: "aws.x", Description: "x", Permissions: activitiesPermissions()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"aws ec2:ModifyInstanceAttribute on arn:aws:ec2:*:*:instance/*", "github issues:write", "slack chat:write"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("lacks %q:\n%s", want, b.String())
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, errOut := runCLI(t, nil, "completion", shell)
		if code != 0 || !strings.Contains(out, "firebreak") || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: exit %d, stdout %d bytes, stderr %q", shell, code, len(out), errOut)
		}
	}
}

// TestCompletePlaybookNames: the shell's completion request for a
// playbook argument gets the library's names, for every command that
// takes one.
func TestCompletePlaybookNames(t *testing.T) {
	for _, args := range [][]string{{"playbook", "run", "rollback"}, {"playbook", "show", ""}, {"playbook", "iam-policy", "roll"}} {
		code, out, errOut := runCLI(t, nil, append([]string{"__complete"}, args...)...)
		if code != 0 || !strings.Contains(out, "rollback-drill") {
			t.Errorf("__complete %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
}

func activitiesPermissions() activities.Permissions {
	return activities.Permissions{
		IAM:    []activities.IAMPermission{{Action: "ec2:ModifyInstanceAttribute", Resource: "arn:aws:ec2:*:*:instance/*"}},
		GitHub: []string{"issues:write"},
		Slack:  []string{"chat:write"},
	}
}

// writePlaybooks writes name -> YAML into a fresh directory.
func writePlaybooks(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const callsShipped = `apiVersion: firebreak/v1
kind: Playbook
metadata: {name: my-update}
steps:
  - id: update
    call: {playbook: comms-checklist, with: {headline: "all good"}}
`

const myDrill = `apiVersion: firebreak/v1
kind: Playbook
metadata: {name: rollback-drill, title: My own drill}
steps:
  - id: only
    action: core.noop
`

// TestDirAddsToTheLibrary: --dir and FIREBREAK_PLAYBOOKS add playbooks to
// the shipped ones, which they may call, and replace a shipped one of the
// same name, saying so.
func TestDirAddsToTheLibrary(t *testing.T) {
	dir := writePlaybooks(t, map[string]string{"update.yaml": callsShipped, "drill.yaml": myDrill})
	for name, tc := range map[string]struct {
		env  map[string]string
		args []string
	}{
		"--dir":               {nil, []string{"playbook", "list", "--dir", dir}},
		"FIREBREAK_PLAYBOOKS": {map[string]string{"FIREBREAK_PLAYBOOKS": dir}, []string{"playbook", "list"}},
	} {
		code, out, errOut := runCLI(t, tc.env, tc.args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", name, code, errOut)
		}
		for _, want := range []string{"my-update ", "comms-checklist ", "incident-triage ", "rollback-drill My own drill "} {
			if !strings.Contains(words(out), want) {
				t.Errorf("%s: list lacks %q:\n%s", name, want, out)
			}
		}
		if want := "note: " + filepath.Join(dir, "drill.yaml") + " replaces the shipped playbook rollback-drill\n"; errOut != want {
			t.Errorf("%s: stderr %q, want %q", name, errOut, want)
		}
	}
	// The call of a shipped playbook is linked: show lists it.
	code, out, _ := runCLI(t, nil, "playbook", "show", "--dir", dir, "my-update")
	if code != 0 || !strings.Contains(out, "Calls:       comms-checklist") {
		t.Errorf("show my-update: exit %d\n%s", code, out)
	}
	// check reports the directory's playbooks only.
	code, out, _ = runCLI(t, nil, "playbook", "check", "--dir", dir)
	if code != 0 || strings.Contains(out, "incident-triage") || !strings.Contains(out, "my-update") || !strings.Contains(out, "rollback-drill") {
		t.Errorf("check --dir: exit %d\n%s", code, out)
	}
	// A call to a playbook that exists nowhere is still a load error.
	bad := writePlaybooks(t, map[string]string{"bad.yaml": strings.Replace(callsShipped, "comms-checklist", "comms-checklst", 1)})
	code, _, errOut := runCLI(t, nil, "playbook", "check", "--dir", bad)
	if code != exitFailure || !strings.Contains(errOut, `call to unknown playbook "comms-checklst" (did you mean "comms-checklist"?)`) {
		t.Errorf("check a bad call: exit %d\n%s", code, errOut)
	}
}

func TestIncidentKey(t *testing.T) {
	for in, want := range map[string]string{
		"inc-2026-0001":          "INC-2026-0001",
		" INC-2026-0001 ":        "INC-2026-0001",
		"incident-INC-2026-0042": "INC-2026-0042",
		"Inc-2026-0042":          "INC-2026-0042",
	} {
		if got := incidentKey(in); got != want {
			t.Errorf("incidentKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTimedOutSaysWhat: a deadline that ran out names what the CLI waited
// for, however the SDK reported it; other errors pass through.
func TestTimedOutSaysWhat(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	grpcStyle := errors.New("rpc error: code = DeadlineExceeded desc = context deadline exceeded")
	for _, err := range []error{context.DeadlineExceeded, grpcStyle} {
		got := timedOut(ctx, err, "the status of run-1", callWait)
		if !strings.Contains(got.Error(), "no answer within 30s while waiting for the status of run-1") || !errors.Is(got, err) {
			t.Errorf("%v: got %v", err, got)
		}
	}
	other := errors.New("workflow not found")
	if got := timedOut(context.Background(), other, "x", callWait); got != other {
		t.Errorf("other error: got %v", got)
	}
}
