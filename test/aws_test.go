package test

import (
	"encoding/json"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
	fslack "github.com/firebreak-ir/firebreak/integrations/slack"
	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/test/harness"
)

// awsSecret is the worker's AWS secret key: a canary that must never be logged, posted or
// persisted.
const awsSecret = "aws-secret-CANARY-41c7e0b2"

// awsEnv is firebreak dev wired to a fake Slack and awsfake with the seeded world.
type awsEnv struct {
	*slackEnv
	aws     *awsfake.Server
	world   harness.AWSWorld
	clicked map[string]bool // approval buttons already pressed
}

// startAWSDev starts awsfake with harness.SeedAWS's world and firebreak dev acting in it;
// extraConfig is appended to firebreak.yaml.
func startAWSDev(t *testing.T, extraConfig string) *awsEnv {
	t.Helper()
	f := awsfake.New()
	t.Cleanup(f.Close)
	world := harness.SeedAWS(f)
	env, err := harness.AWSEnv(f, t.TempDir(), awsSecret)
	if err != nil {
		t.Fatal(err)
	}
	config := "access:\n  groups:\n    incident-commanders: [S0ICS]\n  invite: [U0SRE, S0ICS]\n  responders: [U0SRE, S0ICS]\n" + harness.AWSConfig() + extraConfig
	e := startSlackDevWith(t, config, env...)
	e.fake.AddChannel("C0GENERAL", "general", slackfake.Members(e.fake.BotUserID()))
	return &awsEnv{slackEnv: e, aws: f, world: world, clicked: map[string]bool{}}
}

// declare opens an incident and returns its channel once the incident is bound to it.
func (e *awsEnv) declare(title string) slackfake.Channel {
	e.t.Helper()
	e.command("U0DECL", "C0GENERAL", "general", `declare "`+title+`" sev1`, "trig-declare-"+nowTag(), nil)
	return e.boundChannel(title)
}

// run starts a playbook from the incident channel as U0IC2.
func (e *awsEnv) run(ch slackfake.Channel, verb, text string) {
	e.t.Helper()
	out := e.command("U0IC2", ch.ID, ch.Name, verb+" "+text, "trig-"+verb+"-"+nowTag(), nil)
	if !strings.Contains(out["text"].(string), "started `") {
		e.t.Fatalf("%s %s: %v", verb, text, out)
	}
}

// approve clicks Approve as U0IC1 (an incident commander who did not start the run) on the
// first approval request for step whose button nobody here clicked yet.
func (e *awsEnv) approve(ch slackfake.Channel, step string) {
	e.t.Helper()
	var value string
	waitFor(e.t, func() bool {
		for _, m := range e.fake.Messages(ch.ID) {
			v := approveValue(m.Blocks)
			if ref, err := fslack.DecodeApprovalRef(v); err == nil && ref.Step == step && !e.clicked[v] {
				value = v
				return true
			}
		}
		return false
	})
	e.clicked[value] = true
	if got := e.click("U0IC1", ch, fslack.ActionApprove, value); !strings.Contains(got, "U0IC1") {
		e.t.Fatalf("approve %s: %s", step, got)
	}
}

// approveValue is the value of the Approve button in blocks, "" when there is none.
func approveValue(blocks json.RawMessage) string {
	var bs []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if json.Unmarshal(blocks, &bs) != nil {
		return ""
	}
	for _, b := range bs {
		for _, el := range b.Elements {
			if el.ActionID == fslack.ActionApprove {
				return el.Value
			}
		}
	}
	return ""
}

// timelineText is the incident's timeline as /incident timeline shows it.
func (e *awsEnv) timelineText(ch slackfake.Channel) string {
	e.t.Helper()
	return e.command("U0DECL", ch.ID, ch.Name, "timeline", "trig-tl-"+nowTag(), nil)["text"].(string)
}

// waitRun waits until /incident status says the playbook ended with status.
func (e *awsEnv) waitRun(ch slackfake.Channel, playbook, status string) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := e.command("U0DECL", ch.ID, ch.Name, "status", "trig-status-"+nowTag(), nil)["text"].(string)
		if strings.Contains(st, "`"+playbook+"` "+status) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("`%s` not %s within 60s; status:\n%s", playbook, status, st)
		}
		<-time.After(100 * time.Millisecond)
	}
}

func nowTag() string { return time.Now().Format("150405.000000000") }

// roleCalls are the operations the fake saw made with the prod role's credentials, as IAM
// actions ("ec2:DescribeInstances"), sorted and deduplicated: what the role's policy must allow.
func roleCalls(f *awsfake.Server) []string {
	seen := map[string]bool{}
	for _, c := range f.Calls() {
		if strings.Contains(c.Principal, ":assumed-role/firebreak-responder/") {
			seen[c.Service+":"+c.Operation] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// policyActions runs `firebreak playbook iam-policy name` and returns the IAM actions it grants.
func policyActions(t *testing.T, name string) []string {
	t.Helper()
	out, err := exec.Command(bin, "playbook", "iam-policy", name).Output()
	if err != nil {
		t.Fatalf("iam-policy %s: %v", name, err)
	}
	var p struct {
		Statement []struct{ Action []string }
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("iam-policy %s: %v\n%s", name, err, out)
	}
	var acts []string
	for _, s := range p.Statement {
		acts = append(acts, s.Action...)
	}
	slices.Sort(acts)
	return slices.Compact(acts)
}

// assertPolicyMatches: the playbook's generated policy grants exactly what its runs called.
func assertPolicyMatches(t *testing.T, name string, calls []string) {
	t.Helper()
	if got := policyActions(t, name); !reflect.DeepEqual(got, calls) {
		t.Errorf("iam-policy %s grants\n  %v\nbut the runs called\n  %v", name, got, calls)
	}
}

// successfulCalls counts the calls of one operation that AWS carried out.
func successfulCalls(f *awsfake.Server, svc, op string) int {
	n := 0
	for _, c := range f.CallsTo(svc, op) {
		if c.ErrorCode == "" {
			n++
		}
	}
	return n
}

// restartDev starts firebreak dev again on the data dir of the one that exited (killed, say), with
// the environment it had (so the same config, Slack and AWS: exec keeps the last of repeated
// variables), and points e at the new process.
func (e *awsEnv) restartDev() {
	e.t.Helper()
	select {
	case <-e.d.Done():
	default:
		e.t.Fatal("restartDev: firebreak dev is still running")
	}
	e.d = startDev(e.t, e.d.DataDir, e.d.Cmd.Env...)
	e.dev = "http://" + e.d.HTTPAddr
}

// startRunID starts a playbook from the incident channel as U0IC2, as run does, and returns the
// run's ID: an incident that runs one playbook several times tells the runs apart by it.
func (e *awsEnv) startRunID(ch slackfake.Channel, verb, text string) string {
	e.t.Helper()
	out := e.command("U0IC2", ch.ID, ch.Name, verb+" "+text, "trig-"+verb+"-"+nowTag(), nil)
	txt, _ := out["text"].(string)
	m := regexp.MustCompile("started `[^`]+`.*\\(run `([^`]+)`\\)").FindStringSubmatch(txt)
	if m == nil {
		e.t.Fatalf("%s %s: %v", verb, text, out)
	}
	return m[1]
}

// waitRunStatus waits until /incident status says run id ended with status and returns the run's
// line, which carries its error when it has one.
func (e *awsEnv) waitRunStatus(ch slackfake.Channel, id, status string) string {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		st := e.command("U0DECL", ch.ID, ch.Name, "status", "trig-status-"+nowTag(), nil)["text"].(string)
		for _, line := range strings.Split(st, "\n") {
			if strings.Contains(line, "run `"+id+"`") && strings.Contains(line, "` "+status+" (by") {
				return line
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("run %s not %s within 90s; status:\n%s", id, status, st)
		}
		<-time.After(100 * time.Millisecond)
	}
}
