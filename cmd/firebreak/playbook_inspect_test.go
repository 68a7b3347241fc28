package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/playbooks"
)

// The fixtures: a valid pair (contain-host calls notify-team) and a
// directory with errors in two files.
const (
	inspectGoodDir   = "testdata/playbooks"
	inspectBrokenDir = "testdata/broken"
)

// brokenDirErrors is what the loader reports for inspectBrokenDir, in its order.
func brokenDirErrors() []string {
	return []string{
		`testdata/broken/broken.yaml:7:13: unknown action "core.lgo" (did you mean "core.log"?)`,
		`testdata/broken/broken.yaml:9:5: unknown key "wehn" in step "second" (did you mean "when"?)`,
		`testdata/broken/broken.yaml:11:26: with.message: undeclared input "nope"`,
		`testdata/broken/broken.yaml:12:9: duplicate step id "first" (first defined at line 6)`,
		`testdata/broken/broken.yaml:14:13: on_failure must be "stop" or "rollback", got "retry"`,
		`testdata/broken/calls-missing.yaml:7:22: call to unknown playbook "no-such-playbook"`,
	}
}

func joinLines(s ...string) string { return strings.Join(s, "\n") + "\n" }

func TestPlaybookCheckLibrary(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "firebreak.yaml")
	groups := "access:\n  groups:\n    comms-leads: [U0CL1]\n    incident-commanders: [U0IC1]\n    engineering-managers: [U0EM]\n"
	if err := os.WriteFile(cfg, []byte(groups), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, map[string]string{"FIREBREAK_CONFIG": cfg}, "playbook", "check")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := joinLines(
		"ok  aws-access-key-compromise   (library/aws-access-key-compromise.yaml)",
		"ok  comms-checklist             (library/comms-checklist.yaml)",
		"ok  ec2-compromise-containment  (library/ec2-compromise-containment.yaml)",
		"ok  emergency-patch             (library/emergency-patch.yaml)",
		"ok  incident-triage             (library/incident-triage.yaml)",
		"ok  rollback-drill              (library/rollback-drill.yaml)",
		"ok  web-attack-block            (library/web-attack-block.yaml)",
	)
	if out != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out, want)
	}
}

// TestPlaybookCheckWarnsAboutApproverGroups: with no configuration, the
// groups the library names are warnings (exit 0), and the drill, which
// needs none, has none.
func TestPlaybookCheckWarnsAboutApproverGroups(t *testing.T) {
	code, _, errOut := runCLI(t, nil, "playbook", "check")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := `library/incident-triage.yaml:43:5: warning: step "declare-major": approval.group "incident-commanders" is not configured (access.groups.incident-commanders in firebreak.yaml), so it adds nobody to the approvers`
	if !strings.Contains(errOut, want+"\n") || strings.Contains(errOut, "rollback-drill") {
		t.Fatalf("stderr %q\nwant it to contain %q", errOut, want)
	}
	code, _, errOut = runCLI(t, map[string]string{"FIREBREAK_CONFIG": filepath.Join(t.TempDir(), "missing.yaml")}, "playbook", "check")
	if code != 0 || !strings.HasPrefix(errOut, "warning: approver groups not checked: ") {
		t.Fatalf("unreadable configuration: exit %d, stderr %q", code, errOut)
	}
}

func TestPlaybookCheckValid(t *testing.T) {
	want := joinLines(
		"ok  contain-host  (testdata/playbooks/contain-host.yaml)",
		"ok  notify-team   (testdata/playbooks/notify-team.yaml)",
	)
	for name, tc := range map[string]struct {
		env  map[string]string
		args []string
	}{
		"--dir":               {nil, []string{"playbook", "check", "--dir", inspectGoodDir}},
		"FIREBREAK_PLAYBOOKS": {map[string]string{"FIREBREAK_PLAYBOOKS": inspectGoodDir}, []string{"playbook", "check"}},
		"files": {nil, []string{"playbook", "check",
			filepath.Join(inspectGoodDir, "contain-host.yaml"), filepath.Join(inspectGoodDir, "notify-team.yaml")}},
		// Files given on the command line replace the directory from the
		// environment.
		"files over FIREBREAK_PLAYBOOKS": {map[string]string{"FIREBREAK_PLAYBOOKS": inspectBrokenDir}, []string{"playbook", "check",
			filepath.Join(inspectGoodDir, "contain-host.yaml"), filepath.Join(inspectGoodDir, "notify-team.yaml")}},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.env, tc.args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			if out != want {
				t.Fatalf("stdout:\n%s\nwant:\n%s", out, want)
			}
		})
	}
}

// A failed check prints every error exactly as the loader formats it,
// then a one-line summary, and exits 1: the files are at fault.
func TestPlaybookCheckReportsEveryError(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"one file": {
			[]string{filepath.Join(inspectBrokenDir, "broken.yaml")},
			joinLines(append(brokenDirErrors()[:5], "firebreak: 5 errors in 1 file")...),
		},
		"directory": {
			[]string{"--dir", inspectBrokenDir},
			joinLines(append(brokenDirErrors(), "firebreak: 6 errors in 2 files")...),
		},
		// Files are checked as a set: a call must name one of them.
		"caller without its callee": {
			[]string{filepath.Join(inspectGoodDir, "contain-host.yaml")},
			joinLines(
				`testdata/playbooks/contain-host.yaml:35:21: call to unknown playbook "notify-team"`,
				"firebreak: 1 error in 1 file",
			),
		},
		"missing file": {
			[]string{"testdata/no-such-playbook.yaml", filepath.Join(inspectBrokenDir, "calls-missing.yaml")},
			joinLines(
				"testdata/broken/calls-missing.yaml:7:22: call to unknown playbook \"no-such-playbook\"",
				"testdata/no-such-playbook.yaml: read playbook: open testdata/no-such-playbook.yaml: no such file or directory",
				"firebreak: 2 errors in 2 files",
			),
		},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, append([]string{"playbook", "check"}, tc.args...)...)
			if code != exitFailure {
				t.Errorf("exit %d, want %d", code, exitFailure)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if errOut != tc.want {
				t.Errorf("stderr:\n%s\nwant:\n%s", errOut, tc.want)
			}
		})
	}
}

// The other commands cannot work from a library with errors: they show
// the same errors and exit 1 too.
func TestPlaybookInspectBrokenLibrary(t *testing.T) {
	want := joinLines(append(brokenDirErrors(), "firebreak: cannot load playbooks: 6 errors in 2 files")...)
	for _, args := range [][]string{
		{"list"},
		{"show", "broken"},
		{"graph", "broken"},
		{"iam-policy", "broken"},
	} {
		code, out, errOut := runCLI(t, nil, append([]string{"playbook", "--dir", inspectBrokenDir}, args...)...)
		if code != exitFailure || out != "" || errOut != want {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant exit %d and stderr:\n%s", args, code, out, errOut, exitFailure, want)
		}
	}
}

func TestPlaybookUsageErrorsExitTwo(t *testing.T) {
	empty := t.TempDir()
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"check missing dir":       {[]string{"check", "--dir", "testdata/no-such-dir"}, "open testdata/no-such-dir: no such file or directory"},
		"check dir is a file":     {[]string{"check", "--dir", filepath.Join(inspectGoodDir, "notify-team.yaml")}, "not a directory"},
		"check empty dir":         {[]string{"check", "--dir", empty}, "no playbooks (*.yaml, *.yml) in " + empty},
		"check dir and files":     {[]string{"check", "--dir", inspectGoodDir, filepath.Join(inspectGoodDir, "notify-team.yaml")}, "give --dir or FILE arguments, not both"},
		"list missing dir":        {[]string{"list", "--dir", "testdata/no-such-dir"}, "no such file or directory"},
		"list with an argument":   {[]string{"list", "extra"}, "unknown command"},
		"show unknown playbook":   {[]string{"show", "no-such-playbook"}, `no playbook named "no-such-playbook" (have: aws-access-key-compromise, comms-checklist, ec2-compromise-containment, emergency-patch, incident-triage, rollback-drill, web-attack-block)`},
		"graph unknown playbook":  {[]string{"graph", "--dir", inspectGoodDir, "notify-teams"}, `no playbook named "notify-teams"; did you mean "notify-team"?`},
		"run typo":                {[]string{"run", "rollback-dril"}, `no playbook named "rollback-dril"; did you mean "rollback-drill"?`},
		"iam-policy unknown":      {[]string{"iam-policy", "no-such-playbook"}, `no playbook named "no-such-playbook"`},
		"show without a name":     {[]string{"show"}, "accepts 1 arg(s), received 0"},
		"graph with two names":    {[]string{"graph", "incident-triage", "rollback-drill"}, "accepts 1 arg(s), received 2"},
		"iam-policy github+slack": {[]string{"iam-policy", "--github", "--slack", "incident-triage"}, "give --github or --slack, not both"},
		"unknown flag":            {[]string{"list", "--yaml"}, "unknown flag: --yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, append([]string{"playbook"}, tc.args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if !strings.HasPrefix(errOut, "firebreak: ") || !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q, want firebreak: ... %q", errOut, tc.want)
			}
		})
	}
}

func TestPlaybookList(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "playbook", "list", "--dir", inspectGoodDir)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	// --dir adds to the shipped library. Columns are compared by their words: their width
	// follows the longest name.
	want := joinLines(
		"NAME TITLE TAGS STEPS APPROVALS",
		"aws-access-key-compromise Contain a leaked or stolen AWS access key containment,aws,iam,credentials 7 1",
		"comms-checklist Stakeholder and customer update comms 5 2",
		`contain-host Contain a host "safely" containment,test 6 1`,
		"ec2-compromise-containment Contain a compromised EC2 instance containment,aws,ec2 6 1",
		"emergency-patch Patch a known-exploited vulnerability across a fleet remediation,aws,ssm,patching 4 1",
		"incident-triage Triage a new incident triage,generic 9 1",
		"notify-team Tell the team - 2 0",
		"rollback-drill Rehearse a rollback drill 6 1",
		"web-attack-block Block attacking addresses at the WAF, for a while containment,aws,waf,web 3 1",
	)
	if got := words(out); got != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(out, "comms-checklist             Stakeholder") {
		t.Errorf("columns are not aligned:\n%s", out)
	}
}

// words is s with each line's runs of spaces collapsed to one.
func words(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

func TestPlaybookListJSON(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "playbook", "list", "--json", "--dir", inspectGoodDir)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var got []playbookSummary
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	var own []playbookSummary
	for _, s := range got {
		if strings.HasPrefix(s.Source, inspectGoodDir) {
			own = append(own, s)
		}
	}
	shipped, err := fs.Glob(playbooks.LibraryFS(), "library/*.yaml")
	if err != nil || len(shipped) == 0 {
		t.Fatalf("shipped playbooks: %v %v", shipped, err)
	}
	if len(got) != len(own)+len(shipped) {
		t.Errorf("list --json has %d playbooks, want %d of --dir's and the %d shipped ones", len(got), len(own), len(shipped))
	}
	got = own
	want := []playbookSummary{
		{Name: "contain-host", Title: `Contain a host "safely"`, Description: "Test fixture for the playbook inspect commands.",
			Tags: []string{"containment", "test"}, Steps: 6, Approvals: 1, Calls: []string{"notify-team"}, Source: "testdata/playbooks/contain-host.yaml"},
		{Name: "notify-team", Title: "Tell the team", Tags: []string{}, Steps: 2, Source: "testdata/playbooks/notify-team.yaml"},
	}
	if g, w := compactJSON(t, got), compactJSON(t, want); g != w {
		t.Fatalf("list --json:\n%s\nwant:\n%s", g, w)
	}
	// Scripts get [] rather than null for a playbook without tags.
	if !strings.Contains(out, `"tags": []`) {
		t.Errorf("untagged playbook lacks \"tags\": []:\n%s", out)
	}
}

func compactJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPlaybookShow(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "playbook", "show", "--dir", inspectGoodDir, "contain-host")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	// Key lines, in order: header, inputs, then steps with their details
	// and parallel members indented under their group.
	want := []string{
		"Name:         contain-host\n",
		"Title:        Contain a host \"safely\"\n",
		"Tags:         containment, test\n",
		"On failure:   rollback\n",
		"Calls:        notify-team\n",
		"\nInputs:\n",
		"  host    string  required, pattern \"^[a-z0-9.-]+$\"  Host to contain\n",
		"  reason  string  default \"\"\n",
		"  mode    string  default \"soft\", enum [\"soft\",\"hard\"]\n",
		"\nSteps (6, 1 with approval):\n",
		"  1. tell-team: action core.log\n",
		"  2. tell_team: action core.log\n",
		"       when: inputs.reason != \"\" && inputs.reason != \"a|b; <c> #1\"\n",
		"  3. isolate (Isolate the host): action core.noop\n",
		"       approval: min 2 of users alice, bob, timeout 10m, then abort\n",
		"       compensate: core.noop\n",
		"       retry: 3 attempts\n",
		"  4. parallel-4: parallel, 2 steps\n",
		"     - notify: call notify-team\n",
		"     - hold: wait for signal \"released\"\n",
		"         when: inputs.mode == 'hard'\n",
		"         timeout: 1h\n",
		"  5. wrap-up: manual, role commander: Confirm ${{ inputs.host }} is contained\n",
	}
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("show lacks %q after the previous line:\n%s", w, out)
		}
		rest = rest[i+len(w):]
	}
	if rest != "" {
		t.Errorf("show has more after the last step: %q", rest)
	}

	// A library playbook: approval escalation, waits, calls, continue on
	// error.
	_, out, _ = runCLI(t, nil, "playbook", "show", "incident-triage")
	for _, w := range []string{
		"  service   string  required, pattern \"^[a-z0-9][a-z0-9-]{1,62}$\"       Affected service, as named in the service catalog\n",
		"     - commander-ack: manual, role commander: Confirm you are incident commander for ${{ inputs.service }} and that severity ${{ inputs.severity }} is right.\n",
		"       approval: min 1 of group incident-commanders, timeout 15m, then escalate to engineering-managers\n",
		"  4. first-update-window: wait 30m\n",
		"  5. status-update: call comms-checklist\n",
		"  6. mitigated: wait for signal \"mitigated\"\n       timeout: 8h\n",
		"  8. close-out: action core.log\n       continue on error\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("show incident-triage lacks %q:\n%s", w, out)
		}
	}
	_, out, _ = runCLI(t, nil, "playbook", "show", "comms-checklist")
	if w := "       retry: 3 attempts, initial interval 5s, backoff 2, max interval 1m\n"; !strings.Contains(out, w) {
		t.Errorf("show comms-checklist lacks %q:\n%s", w, out)
	}
}

func TestPlaybookShowJSON(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "playbook", "show", "--json", "--dir", inspectGoodDir, "contain-host")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var pb playbooks.Playbook
	if err := json.Unmarshal([]byte(out), &pb); err != nil {
		t.Fatalf("not a playbook: %v\n%s", err, out)
	}
	if pb.Metadata.Name != "contain-host" || len(pb.Steps) != 5 || pb.Calls["notify-team"] == nil {
		t.Fatalf("show --json lost data: %+v", pb)
	}
	// The JSON is the playbook as loaded, so its hash is the one a run
	// would record.
	reg, err := actionRegistry()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := playbooks.LoadDir(inspectGoodDir, reg)
	if err != nil {
		t.Fatal(err)
	}
	if pb.Hash() != loaded[0].Hash() {
		t.Error("show --json does not round-trip to the loaded playbook")
	}
	// Expressions stay readable: no \u0026 for &&.
	if !strings.Contains(out, `inputs.reason != \"a|b; <c> #1\"`) || !strings.Contains(out, "&&") {
		t.Errorf("show --json escapes expressions:\n%s", out)
	}
}

func TestPlaybookGraph(t *testing.T) {
	want, err := os.ReadFile("testdata/contain-host.mmd")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, nil, "playbook", "graph", "--dir", inspectGoodDir, "contain-host")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if out != string(want) {
		t.Fatalf("graph:\n%s\nwant (testdata/contain-host.mmd):\n%s", out, want)
	}
	// What the golden file pins down, spelled out.
	for _, w := range []string{
		"flowchart TD\n",
		// tell-team and tell_team both map to tell_team: kept apart.
		`    s_tell_team["tell-team<br/>core.log"]` + "\n",
		`    s_tell_team_2["tell_team<br/>core.log"]` + "\n",
		// when labels the edge; quotes, |, ;, <, > and # are entities.
		`    s_tell_team -->|"when inputs.reason != #34;#34; #38;#38; inputs.reason != #34;a#124;b#59; #60;c#62; #35;1#34;"| s_tell_team_2` + "\n",
		// Approval: a hexagon in the approval class.
		`    s_isolate{{"isolate<br/>Isolate the host<br/>core.noop<br/>approval: 2 of alice, bob"}}` + "\n",
		"    class s_isolate approval\n",
		// Compensation: a dotted edge to the undo node.
		"    s_isolate -.->|compensate| c_isolate\n",
		// Parallel: fan-out from a fork, fan-in to a join.
		"    s_parallel_4 --> s_notify\n",
		`    s_parallel_4 -->|"when inputs.mode == 'hard'"| s_hold` + "\n",
		"    s_notify --> j_parallel_4\n    s_hold --> j_parallel_4\n",
		// Shapes of call, wait and manual steps.
		`    s_notify[["notify<br/>call notify-team"]]` + "\n",
		`    s_hold(("hold<br/>wait for signal released"))` + "\n",
		`    s_wrap_up[/"wrap-up<br/>manual: commander"/]` + "\n",
		"    s_wrap_up --> finish\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("graph lacks %q", w)
		}
	}
	for range 3 {
		if _, again, _ := runCLI(t, nil, "playbook", "graph", "--dir", inspectGoodDir, "contain-host"); again != out {
			t.Fatalf("graph changed between runs:\n%s\nthen:\n%s", out, again)
		}
	}
}

func TestPlaybookGraphLibrary(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "playbook", "graph", "rollback-drill")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, w := range []string{
		"    %% rollback-drill: Rehearse a rollback (on_failure: rollback)\n",
		"    begin --> s_contain\n",
		"    s_notify_log -.->|compensate| c_notify_log\n",
		"    class c_contain,c_rotate,c_notify_log compensation\n",
		`    j_notify -->|"when inputs.fail #38;#38; steps.contain.status == 'succeeded'"| s_boom` + "\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("graph lacks %q:\n%s", w, out)
		}
	}
	if _, again, _ := runCLI(t, nil, "playbook", "graph", "rollback-drill"); again != out {
		t.Fatal("graph changed between runs")
	}
}

// Core actions need no permissions: nothing on stdout (an empty policy is
// invalid in AWS), a note on stderr, success.
func TestPlaybookIAMPolicyNothingNeeded(t *testing.T) {
	for flag, want := range map[string]string{
		"":         "playbook incident-triage needs no AWS permissions\n",
		"--github": "playbook incident-triage needs no GitHub permissions\n",
		"--slack":  "playbook incident-triage needs no Slack scopes\n",
	} {
		args := []string{"playbook", "iam-policy", "incident-triage"}
		if flag != "" {
			args = append(args, flag)
		}
		code, out, errOut := runCLI(t, nil, args...)
		if code != 0 || out != "" || errOut != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0, nothing, %q", args, code, out, errOut, want)
		}
	}
}

// The binary's registry declares no permissions yet, so what iam-policy
// prints for real ones is tested on writePermissions with invented
// actions.
func TestWritePermissions(t *testing.T) {
	def := func(name string, perms activities.Permissions) activities.Action {
		return activities.Def[struct{}]{
			Name:        name,
			Permissions: perms,
			PlanFunc: func(context.Context, activities.Request, struct{}) (activities.Plan, error) {
				return activities.Plan{}, nil
			},
			ExecuteFunc: func(context.Context, activities.Request, struct{}) (activities.Result, error) {
				return activities.Result{}, nil
			},
		}
	}
	reg, err := activities.NewRegistry(
		def("test.ec2.isolate", activities.Permissions{
			IAM: []activities.IAMPermission{
				{Action: "ec2:ModifyInstanceAttribute", Resource: "arn:aws:ec2:*:*:instance/*"},
				{Action: "ec2:DescribeInstances", Resource: "*"},
			},
			Slack: []string{"chat:write"},
		}),
		def("test.github.issue", activities.Permissions{GitHub: []string{"issues:write", "metadata:read"}, Slack: []string{"chat:write", "reactions:write"}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	pb := &playbooks.Playbook{
		Metadata: playbooks.Metadata{Name: "contain"},
		Steps: []playbooks.Step{
			{ID: "isolate", Kind: playbooks.KindAction, Action: "test.ec2.isolate"},
			{ID: "ticket", Kind: playbooks.KindAction, Action: "test.github.issue"},
		},
	}
	for which, want := range map[string]string{
		permsAWS: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Ec2",
      "Effect": "Allow",
      "Action": [
        "ec2:DescribeInstances"
      ],
      "Resource": [
        "*"
      ]
    },
    {
      "Sid": "Ec2Stmt2",
      "Effect": "Allow",
      "Action": [
        "ec2:ModifyInstanceAttribute"
      ],
      "Resource": [
        "arn:aws:ec2:*:*:instance/*"
      ]
    }
  ]
}
`,
		permsGitHub: "issues:write\nmetadata:read\n",
		permsSlack:  "chat:write\nreactions:write\n",
	} {
		var out, errOut bytes.Buffer
		if err := writePermissions(&out, &errOut, reg, pb, which); err != nil {
			t.Fatalf("%s: %v", which, err)
		}
		if out.String() != want || errOut.Len() != 0 {
			t.Errorf("%s: stdout:\n%s\nstderr %q\nwant stdout:\n%s", which, out.String(), errOut.String(), want)
		}
	}

	pb.Steps[1].Action = "test.github.issues"
	for _, which := range []string{permsAWS, permsGitHub} {
		var out, errOut bytes.Buffer
		err := writePermissions(&out, &errOut, reg, pb, which)
		if err == nil || !strings.Contains(err.Error(), `unknown action "test.github.issues"`) || out.Len() != 0 {
			t.Errorf("%s: err %v, stdout %q; want the unknown action named and nothing printed", which, err, out.String())
		}
	}
}
