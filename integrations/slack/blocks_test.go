package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	goslack "github.com/slack-go/slack"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from the builders' output")

// message is what the bot sends: blocks plus the fallback text.
type message struct {
	Text   string          `json:"text"`
	Blocks []goslack.Block `json:"blocks"`
}

func marshal(t *testing.T, blocks []goslack.Block, text string) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(message{Text: text, Blocks: blocks}); err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, blocks []goslack.Block, text string) {
	t.Helper()
	got := marshal(t, blocks, text)
	checkLimits(t, blocks, text)
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the builder's output (go test -update rewrites it); got:\n%s", path, got)
	}
}

const hash1 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// t0 is the fixed "now" of message tests.
func t0() time.Time { return time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC) }

func testPlan() *workflows.RunPlan {
	return &workflows.RunPlan{Hash: hash1, Steps: []workflows.PlannedStep{
		{ID: "evidence", Kind: "action", Action: "aws.ec2.snapshot_volumes", Summary: "Snapshot 2 volumes of i-0abc1234 (vol-1, vol-2)"},
		{ID: "isolate", Kind: "action", Action: "aws.ec2.isolate_instance", Summary: "Move i-0abc1234 into quarantine security group sg-q",
			Changes:  []string{"i-0abc1234: security groups sg-web, sg-ssh -> sg-q", "i-0abc1234: termination protection on"},
			Approval: &playbooks.Approval{Group: "incident-commanders", Min: 2}},
		{ID: "tell-channel", Kind: "action", Action: "slack.post", Summary: "Post to #inc-42: Instance isolated <!channel> & co",
			Note: "depends on the isolate step's outputs"},
		{ID: "checklist", Kind: "manual", Summary: "Commander confirms the customer notice"},
	}}
}

func approvalStep() workflows.StepState {
	return workflows.StepState{
		ID: "isolate", Kind: "action", Action: "aws.ec2.isolate_instance", Status: workflows.StepAwaitingApproval,
		StartedAt: t0(),
		Approval: &workflows.ApprovalState{
			Plan: activities.Plan{
				Summary: "Move i-0abc1234 into quarantine security group sg-q",
				Changes: []string{"i-0abc1234: security groups sg-web, sg-ssh -> sg-q", "i-0abc1234: termination protection on"},
			},
			PlanHash: hash1, Group: "incident-commanders", Eligible: []string{"U0IC1", "U0IC2", "U0IC3"},
			Min: 2, Deadline: t0().Add(15 * time.Minute), Open: true,
		},
	}
}

func TestGoldenMessages(t *testing.T) {
	t.Run("incident_summary", func(t *testing.T) {
		b, text := IncidentSummary(IncidentView{
			Key: "INC-42", Title: "Checkout 5xx spike <!channel> & <@U0EVIL>", Severity: "SEV2", Status: "open",
			Commander: "U0CMDR", DeclaredBy: "U0DECL", Channel: "C0INC42",
			Suggested: []string{"ec2-compromise-containment", "aws-key-rotation"},
		})
		golden(t, "incident_summary", b, text)
	})
	t.Run("incident_summary_resolved", func(t *testing.T) {
		b, text := IncidentSummary(IncidentView{Key: "INC-7", Title: "Leaked key", Severity: "sev1", Status: "resolved", DeclaredBy: "alice"})
		golden(t, "incident_summary_resolved", b, text)
	})
	t.Run("plan", func(t *testing.T) {
		b, text := PlanMessage("ec2-compromise-containment", "incident-INC-42/ec2-1", testPlan(), "https://firebreak.example/runs/ec2-1/plan?a=1&b=2")
		golden(t, "plan", b, text)
	})
	t.Run("run_status", func(t *testing.T) {
		st := workflows.RunStatus{Playbook: "ec2-compromise-containment", Status: workflows.RunRunning, Requester: "U0DECL", Steps: []workflows.StepState{
			{ID: "evidence", Status: workflows.StepSucceeded, StartedAt: t0(), EndedAt: t0().Add(42*time.Second + 400*time.Millisecond), Summary: "2 snapshots"},
			{ID: "lookup", Status: workflows.StepSkipped, Summary: "when: false"},
			{ID: "isolate", Status: workflows.StepAwaitingApproval, StartedAt: t0().Add(43 * time.Second), Approval: &workflows.ApprovalState{Min: 2, Approvers: []string{"U0IC1"}}},
			{ID: "rotate", Status: workflows.StepRunning, StartedAt: t0().Add(time.Minute)},
			{ID: "confirm", Status: workflows.StepAwaitingTask, StartedAt: t0().Add(time.Minute), Task: "Call the customer"},
			{ID: "soak", Status: workflows.StepWaiting, StartedAt: t0().Add(time.Minute), Until: t0().Add(time.Hour)},
			{ID: "resume", Status: workflows.StepWaiting, StartedAt: t0().Add(time.Minute), Signal: "customer-ok"},
			{ID: "notify", Status: workflows.StepFailed, StartedAt: t0(), EndedAt: t0().Add(300 * time.Millisecond), Error: "slack: channel_not_found <#C1>"},
			{ID: "ticket", Status: workflows.StepRejected},
			{ID: "page", Status: workflows.StepAborted},
			{ID: "release", Status: workflows.StepCompensated, StartedAt: t0(), EndedAt: t0().Add(2*time.Hour + 5*time.Minute)},
			{ID: "restore", Status: workflows.StepCompensationFailed, Error: "access denied"},
			{ID: "dry", Status: workflows.StepPlanned},
			{ID: "later", Status: workflows.StepPending},
		}}
		b, text := RunStatusMessage("incident-INC-42/ec2-1", st, t0().Add(3*time.Minute+5*time.Second))
		golden(t, "run_status", b, text)
	})
	t.Run("approval_request", func(t *testing.T) {
		b, text := ApprovalRequest("incident-INC-42/ec2-1", approvalStep(), "<!subteam^S0ICS>")
		golden(t, "approval_request", b, text)
	})
	t.Run("approval_progress_partial", func(t *testing.T) {
		b, text := ApprovalProgress("incident-INC-42/ec2-1", approvalStep(), workflows.VoteResult{StepID: "isolate", Approvals: 1, Needed: 2, Approvers: []string{"U0IC1"}})
		golden(t, "approval_progress_partial", b, text)
	})
	t.Run("approval_progress_released", func(t *testing.T) {
		b, text := ApprovalProgress("incident-INC-42/ec2-1", approvalStep(), workflows.VoteResult{StepID: "isolate", Approvals: 2, Needed: 2, Approvers: []string{"U0IC1", "U0IC2"}, Released: true})
		golden(t, "approval_progress_released", b, text)
	})
	t.Run("approval_progress_rejected", func(t *testing.T) {
		step := approvalStep()
		step.Approval.RejectedBy = "U0IC3"
		step.Approval.Open = false
		b, text := ApprovalProgress("incident-INC-42/ec2-1", step, workflows.VoteResult{StepID: "isolate", Needed: 2, Rejected: true})
		golden(t, "approval_progress_rejected", b, text)
	})
}

func TestApprovalProgressText(t *testing.T) {
	tests := []struct {
		name       string
		result     workflows.VoteResult
		rejectedBy string
		want       string
		buttons    bool
	}{
		{"first of two", workflows.VoteResult{Approvals: 1, Needed: 2, Approvers: []string{"U1A"}}, "", "Approved by <@U1A>, 1 of 2", true},
		{"two of three", workflows.VoteResult{Approvals: 2, Needed: 3, Approvers: []string{"U1A", "alice"}}, "", "Approved by <@U1A> and alice, 2 of 3", true},
		{"released", workflows.VoteResult{Approvals: 2, Needed: 2, Approvers: []string{"U1A", "U2B"}, Released: true}, "", "Approved by <@U1A> and <@U2B>", false},
		{"released by three", workflows.VoteResult{Approvals: 3, Needed: 3, Approvers: []string{"U1A", "U2B", "U3C"}, Released: true}, "", "Approved by <@U1A>, <@U2B> and <@U3C>", false},
		{"rejected", workflows.VoteResult{Needed: 2, Rejected: true}, "U3C", "Rejected by <@U3C>", false},
		{"rejected by someone unknown", workflows.VoteResult{Needed: 2, Rejected: true}, "", "Rejected", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step := approvalStep()
			step.Approval.RejectedBy = tt.rejectedBy
			blocks, text := ApprovalProgress("run-1", step, tt.result)
			checkLimits(t, blocks, text)
			if !strings.HasPrefix(text, tt.want+" (") {
				t.Errorf("fallback %q, want it to start with %q", text, tt.want)
			}
			var progress string
			for _, b := range blocks {
				if s, ok := b.(*goslack.SectionBlock); ok && s.BlockID == "approval.progress" {
					progress = s.Text.Text
				}
			}
			if progress != tt.want {
				t.Errorf("progress %q, want %q", progress, tt.want)
			}
			if got := hasButtons(blocks); got != tt.buttons {
				t.Errorf("buttons shown = %v, want %v", got, tt.buttons)
			}
		})
	}
}

func hasButtons(blocks []goslack.Block) bool {
	for _, b := range blocks {
		if _, ok := b.(*goslack.ActionBlock); ok {
			return true
		}
	}
	return false
}

func TestApprovalButtonsCarryRef(t *testing.T) {
	blocks, _ := ApprovalRequest("incident-INC-42/ec2-1", approvalStep(), "")
	want := ApprovalRef{Run: "incident-INC-42/ec2-1", Step: "isolate", PlanHash: hash1}
	seen := map[string]bool{}
	for _, b := range blocks {
		a, ok := b.(*goslack.ActionBlock)
		if !ok {
			continue
		}
		for _, el := range a.Elements.ElementSet {
			btn := el.(*goslack.ButtonBlockElement)
			seen[btn.ActionID] = true
			ref, err := DecodeApprovalRef(btn.Value)
			if err != nil || ref != want {
				t.Errorf("%s value %q decodes to %+v, %v; want %+v", btn.ActionID, btn.Value, ref, err, want)
			}
		}
	}
	if !seen[ActionApprove] || !seen[ActionReject] {
		t.Fatalf("buttons %v, want approve and reject", seen)
	}
}

func TestApprovalRefRoundTrip(t *testing.T) {
	for _, ref := range []ApprovalRef{
		{Run: "r", Step: "s"},
		{Run: "incident-INC-42/ec2-1", Step: "isolate", PlanHash: hash1},
		{Run: `quo"tes\ & <tags> ünïcødé 🔥`, Step: "a_b-c", PlanHash: "h"},
		{Run: strings.Repeat("r", 1800), Step: "s", PlanHash: hash1},
	} {
		v, err := encodeApprovalRef(ref)
		if err != nil {
			t.Fatalf("encode %+v: %v", ref, err)
		}
		if len(v) > maxValue {
			t.Fatalf("value is %d bytes", len(v))
		}
		got, err := DecodeApprovalRef(v)
		if err != nil || got != ref {
			t.Fatalf("round trip of %+v: %+v, %v", ref, got, err)
		}
	}
	if _, err := encodeApprovalRef(ApprovalRef{Run: strings.Repeat("r", 2000), Step: "s"}); !errors.Is(err, errValueTooLong) {
		t.Fatalf("encoding a 2000-byte run ID: %v, want errValueTooLong", err)
	}
}

func TestDecodeApprovalRefErrors(t *testing.T) {
	for _, v := range []string{
		"", "x", "{}", `{"r":"run"}`, `{"s":"step"}`, `{"r":"run","s":"step","x":1}`,
		`{"r":"run","s":"step"} {}`, `{"r":1,"s":"step"}`, `{"r":"` + strings.Repeat("r", 2000) + `","s":"s"}`,
	} {
		if _, err := DecodeApprovalRef(v); !errors.Is(err, ErrBadApprovalRef) {
			t.Errorf("DecodeApprovalRef(%.40q) = %v, want ErrBadApprovalRef", v, err)
		}
	}
}

func TestApprovalRequestWithHugeRunID(t *testing.T) {
	blocks, text := ApprovalRequest(strings.Repeat("r", 5000), approvalStep(), "<@U0IC1>")
	checkLimits(t, blocks, text)
	if hasButtons(blocks) {
		t.Fatal("buttons shown although their value cannot fit")
	}
	js := string(marshal(t, blocks, text))
	if !strings.Contains(js, "/incident approve isolate") {
		t.Fatalf("no command offered instead of buttons:\n%s", js)
	}
}

func TestUserTextIsEscaped(t *testing.T) {
	const evil = "<!channel> <@U0EVIL> <https://evil.example|click> & co"
	plan := &workflows.RunPlan{Hash: evil, Steps: []workflows.PlannedStep{{
		ID: evil, Kind: evil, Action: evil, Summary: evil, Changes: []string{evil}, Note: evil,
		Approval: &playbooks.Approval{Group: evil, Users: []string{evil}},
	}}}
	step := workflows.StepState{ID: evil, Action: evil, Status: workflows.StepFailed, Error: evil, Summary: evil,
		Approval: &workflows.ApprovalState{Plan: activities.Plan{Summary: evil, Changes: []string{evil}}, Group: evil, PlanHash: evil}}
	msgs := map[string]func() ([]goslack.Block, string){
		"summary": func() ([]goslack.Block, string) {
			return IncidentSummary(IncidentView{Key: evil, Title: evil, Severity: evil, Status: evil, Commander: evil, DeclaredBy: evil, Channel: evil, Suggested: []string{evil}})
		},
		"plan": func() ([]goslack.Block, string) { return PlanMessage(evil, evil, plan, "") },
		"status": func() ([]goslack.Block, string) {
			return RunStatusMessage(evil, workflows.RunStatus{Playbook: evil, Status: evil, Requester: evil, Steps: []workflows.StepState{step}, Error: evil}, t0())
		},
		"request": func() ([]goslack.Block, string) { return ApprovalRequest(evil, step, "") },
		"progress": func() ([]goslack.Block, string) {
			return ApprovalProgress(evil, step, workflows.VoteResult{Approvers: []string{evil}, Needed: 2})
		},
	}
	for name, build := range msgs {
		blocks, text := build()
		checkLimits(t, blocks, text)
		for _, s := range append(mrkdwnTexts(t, blocks), text) {
			for _, bad := range []string{"<!channel>", "<@U0EVIL>", "<https://evil", " & co"} {
				if strings.Contains(s, bad) {
					t.Errorf("%s: mrkdwn %q contains %q", name, s, bad)
				}
			}
		}
	}
}

// mrkdwnTexts returns the text of every mrkdwn object in blocks.
func mrkdwnTexts(t *testing.T, blocks []goslack.Block) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["type"] == "mrkdwn" {
				out = append(out, v["text"].(string))
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(decodeBlocks(t, blocks))
	return out
}

func decodeBlocks(t *testing.T, blocks []goslack.Block) []any {
	t.Helper()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var v []any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return v
}

// checkLimits asserts Slack's documented limits on a message.
func checkLimits(t *testing.T, blocks []goslack.Block, fallback string) {
	t.Helper()
	if len(blocks) == 0 || len(blocks) > maxBlocks {
		t.Errorf("%d blocks, want 1..%d", len(blocks), maxBlocks)
	}
	if n := slackLen(fallback); n == 0 || n > 4000 {
		t.Errorf("fallback text is %d characters", n)
	}
	text := func(where string, o any, limit int) {
		m, ok := o.(map[string]any)
		if !ok {
			t.Errorf("%s: not a text object: %v", where, o)
			return
		}
		s, _ := m["text"].(string)
		if n := slackLen(s); n == 0 || n > limit {
			t.Errorf("%s: %s text of %d characters, limit %d: %.80q", where, m["type"], n, limit, s)
		}
	}
	checkConfirm := func(where string, c any) {
		if c == nil {
			return
		}
		m := c.(map[string]any)
		text(where+".confirm.title", m["title"], maxConfirmTitle)
		text(where+".confirm.text", m["text"], maxConfirmText)
		text(where+".confirm.confirm", m["confirm"], maxConfirmButton)
		text(where+".confirm.deny", m["deny"], maxConfirmButton)
	}
	checkElement := func(where string, e map[string]any) {
		if id, _ := e["action_id"].(string); id == "" || len(id) > 255 {
			t.Errorf("%s: action_id %q", where, id)
		}
		switch e["type"] {
		case "button":
			text(where, e["text"], maxButtonText)
			if v, _ := e["value"].(string); slackLen(v) > maxValue {
				t.Errorf("%s: button value of %d characters", where, len(v))
			}
		case "static_select":
			text(where+".placeholder", e["placeholder"], 150)
			for _, o := range e["options"].([]any) {
				text(where+".option", o.(map[string]any)["text"], maxOptionText)
				if v := o.(map[string]any)["value"].(string); slackLen(v) > 150 {
					t.Errorf("%s: option value of %d characters", where, len(v))
				}
			}
		default:
			t.Errorf("%s: unexpected element %v", where, e["type"])
		}
		checkConfirm(where, e["confirm"])
	}
	blockIDs := map[string]bool{}
	for i, b := range decodeBlocks(t, blocks) {
		m := b.(map[string]any)
		where := fmt.Sprintf("block %d (%s)", i, m["type"])
		if id, ok := m["block_id"].(string); ok {
			if blockIDs[id] || len(id) > 255 {
				t.Errorf("%s: block_id %q repeated or too long", where, id)
			}
			blockIDs[id] = true
		}
		switch m["type"] {
		case "header":
			text(where, m["text"], maxHeaderText)
		case "section":
			if m["text"] != nil {
				text(where, m["text"], maxText)
			}
			fields, _ := m["fields"].([]any)
			if len(fields) > 10 || (m["text"] == nil && len(fields) == 0) {
				t.Errorf("%s: %d fields", where, len(fields))
			}
			for _, f := range fields {
				text(where+".field", f, maxFieldText)
			}
			if a, ok := m["accessory"].(map[string]any); ok {
				checkElement(where+".accessory", a)
			}
		case "context":
			els := m["elements"].([]any)
			if len(els) == 0 || len(els) > 10 {
				t.Errorf("%s: %d elements", where, len(els))
			}
			for _, e := range els {
				text(where, e, maxText)
			}
		case "actions":
			els := m["elements"].([]any)
			if len(els) == 0 || len(els) > 25 {
				t.Errorf("%s: %d elements", where, len(els))
			}
			ids := map[string]bool{}
			for _, e := range els {
				el := e.(map[string]any)
				id, _ := el["action_id"].(string)
				if ids[id] {
					t.Errorf("%s: action_id %q twice in one block", where, id)
				}
				ids[id] = true
				checkElement(where, el)
			}
		default:
			t.Errorf("%s: unexpected block type", where)
		}
	}
}

// slackLen is the larger of the rune and UTF-16 lengths.
func slackLen(s string) int { return len(utf16.Encode([]rune(s))) }

func TestLongPlanFits(t *testing.T) {
	big := strings.Repeat("a<&>🔥 ", 1700) // about 10 KB, escapes and surrogate pairs
	plan := &workflows.RunPlan{Hash: hash1}
	for i := range 500 {
		plan.Steps = append(plan.Steps, workflows.PlannedStep{
			ID: fmt.Sprintf("step-%d", i), Kind: "action", Action: "aws.ec2.isolate_instance", Summary: big,
			Changes:  []string{big, big, big},
			Approval: &playbooks.Approval{Group: "commanders", Min: 2, Users: []string{"U1", "U2", "U3", "U4", "U5", "U6", "U7"}},
			Note:     big,
		})
	}
	for _, url := range []string{"https://firebreak.example/plan/1", ""} {
		blocks, text := PlanMessage(strings.Repeat("p", 5000), strings.Repeat("r", 5000), plan, url)
		checkLimits(t, blocks, text)
		js := string(marshal(t, blocks, text))
		shown := len(regexp.MustCompile(`\*\d+\. `+"`step-").FindAllString(js, -1))
		if shown == 0 {
			t.Fatalf("no steps shown")
		}
		last := blocks[len(blocks)-1].(*goslack.SectionBlock).Text.Text
		want := fmt.Sprintf("…and %d more steps", 500-shown)
		if !strings.HasPrefix(last, want) {
			t.Errorf("last block %q, want it to start with %q", last, want)
		}
		if url != "" && !strings.HasSuffix(last, " — full plan: <"+url+">") {
			t.Errorf("last block %q lacks the full plan link", last)
		}
		if url == "" && !strings.Contains(last, "/incident status") {
			t.Errorf("last block %q doesn't say how to see the rest", last)
		}
	}
}

func TestShortPlanShowsEverything(t *testing.T) {
	blocks, _ := PlanMessage("p", "r", testPlan(), "")
	js := string(marshal(t, blocks, ""))
	for _, s := range testPlan().Steps {
		if !strings.Contains(js, "`"+s.ID+"`") {
			t.Errorf("step %s missing", s.ID)
		}
	}
	if strings.Contains(js, "more step") {
		t.Error("short plan says there are more steps")
	}
	if !strings.Contains(js, "plan `"+hash1[:12]+"`") || strings.Contains(js, hash1) {
		t.Error("plan hash not shown short")
	}
	if !strings.Contains(js, "Needs 2 approvals from `incident-commanders`") {
		t.Error("approval requirement missing")
	}
	blocks, _ = PlanMessage("p", "r", nil, "")
	checkLimits(t, blocks, "x")
}

func TestLongRunStatusFits(t *testing.T) {
	st := workflows.RunStatus{Playbook: "big", Status: workflows.RunRunning, Requester: "U0DECL"}
	for i := range 500 {
		s := workflows.StepState{ID: fmt.Sprintf("step-%d", i), Status: workflows.StepPending}
		switch {
		case i < 300:
			s.Status, s.StartedAt, s.EndedAt, s.Summary = workflows.StepSucceeded, t0(), t0().Add(time.Second), strings.Repeat("done <&> ", 1000)
		case i == 300:
			s.Status, s.StartedAt = workflows.StepRunning, t0()
		}
		st.Steps = append(st.Steps, s)
	}
	blocks, text := RunStatusMessage("run-1", st, t0().Add(90*time.Second))
	checkLimits(t, blocks, text)
	js := string(marshal(t, blocks, text))
	for _, want := range []string{":arrows_counterclockwise: `step-300` running · 1m30s", "…298 earlier steps done before", "`step-298`"} {
		if !strings.Contains(js, want) {
			t.Errorf("status lacks %q", want)
		}
	}
	// From two before the running step to the end fits, so nothing more
	// is left out.
	shown := len(regexp.MustCompile("`step-\\d+`").FindAllString(js, -1))
	if shown != 500-298 || strings.Contains(js, "more step") {
		t.Errorf("%d steps shown, want %d", shown, 500-298)
	}

	// With long lines, the tail is cut and counted too.
	for i := range st.Steps {
		st.Steps[i].Error = strings.Repeat("e", 1000)
	}
	blocks, text = RunStatusMessage("run-1", st, t0().Add(90*time.Second))
	checkLimits(t, blocks, text)
	js = string(marshal(t, blocks, text))
	shown = len(regexp.MustCompile("`step-\\d+`").FindAllString(js, -1))
	last := blocks[len(blocks)-1].(*goslack.SectionBlock).Text.Text
	if want := fmt.Sprintf("…and %d more steps", 500-298-shown); last != want {
		t.Errorf("last block %q, want %q", last, want)
	}
	if !strings.Contains(js, "`step-300` running") {
		t.Error("the running step is not shown")
	}
}

func TestHugeApprovalFits(t *testing.T) {
	big := strings.Repeat("x&<>🔥", 2000)
	step := approvalStep()
	step.ID = strings.Repeat("s", 100)
	step.Approval.Plan.Summary = big
	step.Approval.Plan.Changes = nil
	for range 500 {
		step.Approval.Plan.Changes = append(step.Approval.Plan.Changes, big)
	}
	run := strings.Repeat("r", 1500)
	blocks, text := ApprovalRequest(run, step, "<@U0IC1>")
	checkLimits(t, blocks, text)
	if !hasButtons(blocks) {
		t.Fatal("no buttons although the value fits")
	}
	if js := string(marshal(t, blocks, text)); !strings.Contains(js, "more changes not shown") {
		t.Error("cut changes are not counted")
	}
	blocks, text = ApprovalProgress(run, step, workflows.VoteResult{Approvals: 1, Needed: 2, Approvers: []string{"U1A"}})
	checkLimits(t, blocks, text)
}

func TestLongIncidentFits(t *testing.T) {
	var names []string
	for i := range 100 {
		names = append(names, fmt.Sprintf("playbook-%d-%s", i, strings.Repeat("n", 100)))
	}
	names = append(names, strings.Repeat("z", 3000), "")
	long := strings.Repeat("Title <&> 🔥 ", 1000)
	blocks, text := IncidentSummary(IncidentView{Key: "INC-1", Title: long, Severity: long, Status: long, Commander: long, DeclaredBy: long, Channel: long, Suggested: names})
	checkLimits(t, blocks, text)
	run := 0
	for _, b := range blocks {
		if s, ok := b.(*goslack.SectionBlock); ok && s.Accessory != nil && s.Accessory.ButtonElement.ActionID == ActionRunPlaybook {
			run++
		}
	}
	if run != maxSuggestions {
		t.Errorf("%d Run buttons, want %d", run, maxSuggestions)
	}
}

// TestRandomMessagesFit builds messages from random text, escapes and
// multi-byte characters included, and checks every limit.
func TestRandomMessagesFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("ab <>&|`*_~\n\t:é🔥\u200b\"")
	str := func() string {
		n := rng.IntN(4000)
		if rng.IntN(4) == 0 {
			n = rng.IntN(20)
		}
		r := make([]rune, n)
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(r)
	}
	strs := func() []string {
		out := make([]string, rng.IntN(12))
		for i := range out {
			out[i] = str()
		}
		return out
	}
	statuses := []string{workflows.StepPending, workflows.StepRunning, workflows.StepAwaitingApproval, workflows.StepAwaitingTask,
		workflows.StepWaiting, workflows.StepSucceeded, workflows.StepFailed, workflows.StepSkipped, workflows.StepRejected,
		workflows.StepAborted, workflows.StepCompensated, workflows.StepCompensationFailed, workflows.StepPlanned, "weird"}
	for range 50 {
		plan := &workflows.RunPlan{Hash: str()}
		var steps []workflows.StepState
		for range rng.IntN(60) {
			var a *playbooks.Approval
			if rng.IntN(2) == 0 {
				a = &playbooks.Approval{Group: str(), Users: strs(), Min: rng.IntN(5)}
			}
			plan.Steps = append(plan.Steps, workflows.PlannedStep{ID: str(), Kind: str(), Action: str(), Summary: str(), Changes: strs(), Approval: a, Note: str()})
			steps = append(steps, workflows.StepState{
				ID: str(), Status: statuses[rng.IntN(len(statuses))], Summary: str(), Error: str(), Task: str(), Signal: str(),
				StartedAt: t0().Add(time.Duration(rng.IntN(7200)) * time.Second), EndedAt: t0().Add(time.Duration(rng.IntN(7200)) * time.Second),
				Approval: &workflows.ApprovalState{Min: rng.IntN(4), Approvers: strs()},
			})
		}
		b, txt := PlanMessage(str(), str(), plan, str())
		checkLimits(t, b, txt)
		b, txt = RunStatusMessage(str(), workflows.RunStatus{Playbook: str(), Status: str(), Requester: str(), Steps: steps}, t0().Add(time.Hour))
		checkLimits(t, b, txt)
		step := workflows.StepState{ID: str(), Action: str(), Summary: str(), Approval: &workflows.ApprovalState{
			Plan: activities.Plan{Summary: str(), Changes: strs()}, PlanHash: str(), Group: str(), Min: rng.IntN(4),
			RejectedBy: str(), Deadline: t0(), Escalated: true,
		}}
		b, txt = ApprovalRequest(str(), step, "<@U0IC1>")
		checkLimits(t, b, txt)
		b, txt = ApprovalProgress(str(), step, workflows.VoteResult{Approvals: rng.IntN(3), Needed: rng.IntN(3), Approvers: strs(), Released: rng.IntN(2) == 0, Rejected: rng.IntN(3) == 0})
		checkLimits(t, b, txt)
		b, txt = IncidentSummary(IncidentView{Key: str(), Title: str(), Severity: str(), Status: str(), Commander: str(), DeclaredBy: str(), Channel: str(), Suggested: strs()})
		checkLimits(t, b, txt)
		if t.Failed() {
			return
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "0ms",
		850 * time.Millisecond:                "850ms",
		time.Second:                           "1s",
		42*time.Second + 600*time.Millisecond: "43s",
		59*time.Second + 600*time.Millisecond: "1m00s",
		3*time.Minute + 5*time.Second:         "3m05s",
		time.Hour + 2*time.Minute + 31*time.Second: "1h03m",
		50 * time.Hour: "50h00m",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestElapsed(t *testing.T) {
	now := t0().Add(time.Minute)
	tests := []struct {
		s    workflows.StepState
		want string
	}{
		{workflows.StepState{Status: workflows.StepPending}, ""},
		{workflows.StepState{Status: workflows.StepSucceeded, StartedAt: t0(), EndedAt: t0().Add(2 * time.Second)}, "2s"},
		{workflows.StepState{Status: workflows.StepRunning, StartedAt: t0()}, "1m00s"},
		{workflows.StepState{Status: workflows.StepAwaitingApproval, StartedAt: t0().Add(30 * time.Second)}, "30s"},
		{workflows.StepState{Status: workflows.StepFailed, StartedAt: t0()}, ""},
		{workflows.StepState{Status: workflows.StepSucceeded, StartedAt: t0(), EndedAt: t0().Add(-time.Second)}, ""},
	}
	for _, tt := range tests {
		if got := elapsed(tt.s, now); got != tt.want {
			t.Errorf("elapsed(%+v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestEscTrunc(t *testing.T) {
	tests := []struct {
		s     string
		limit int
		want  string
	}{
		{"a<b", 10, "a&lt;b"},
		{"a<b", 5, "a…"}, // never half an entity
		{"🔥🔥🔥", 5, "🔥🔥…"},
		{"🔥🔥", 4, "🔥🔥"},
	}
	for _, tt := range tests {
		if got := escTrunc(tt.s, tt.limit); got != tt.want {
			t.Errorf("escTrunc(%q, %d) = %q, want %q", tt.s, tt.limit, got, tt.want)
		}
	}
}

func TestPackList(t *testing.T) {
	a, b, c := strings.Repeat("a", 2000), strings.Repeat("b", 2000), "ccc"
	more := func(n int) string { return fmt.Sprintf("…and %d more", n) }
	texts := func(blocks []goslack.Block) []string {
		var out []string
		for _, bl := range blocks {
			out = append(out, bl.(*goslack.SectionBlock).Text.Text)
		}
		return out
	}
	tests := []struct {
		name        string
		maxSections int
		budget      int
		more        func(int) string
		want        []string
		shown       int
	}{
		{"all fit", 5, 10000, more, []string{a, b + "\n" + c}, 3},
		{"two sections suffice", 2, 10000, more, []string{a, b + "\n" + c}, 3},
		{"sections run out, no count", 1, 10000, nil, []string{a}, 1},
		{"budget runs out", 5, 4002, more, []string{a, "…and 2 more"}, 1},
		{"budget runs out, no count", 5, 4002, nil, []string{a, b}, 2},
		{"room for the count only", 1, 10000, more, []string{"…and 3 more"}, 0},
		{"no room", 0, 10000, more, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocks, shown := packList([]string{a, b, c}, "\n", tt.maxSections, tt.budget, tt.more)
			if got := texts(blocks); !slices.Equal(got, tt.want) || shown != tt.shown {
				t.Errorf("packList = %d sections %.20q, shown %d; want %.20q, shown %d", len(got), got, shown, tt.want, tt.shown)
			}
		})
	}
}

func FuzzDecodeApprovalRef(f *testing.F) {
	for _, s := range []string{`{"r":"run","s":"step","h":"abc"}`, `{"r":"","s":""}`, `{}`, `[]`, `{"r":"\u00e9","s":"x"}`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		ref, err := DecodeApprovalRef(value)
		if err != nil {
			if !errors.Is(err, ErrBadApprovalRef) {
				t.Fatalf("DecodeApprovalRef(%q) = %v, want ErrBadApprovalRef", value, err)
			}
			return
		}
		v, err := encodeApprovalRef(ref)
		if errors.Is(err, errValueTooLong) {
			return // invalid UTF-8 grows when re-encoded as U+FFFD
		}
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", ref, err)
		}
		if again, err := DecodeApprovalRef(v); err != nil || again != ref {
			t.Fatalf("round trip of %+v: %+v, %v", ref, again, err)
		}
	})
}

// A run that failed before any step (its plan could not be made) says why in its message.
func TestRunStatusMessageShowsTheRunsError(t *testing.T) {
	st := workflows.RunStatus{Playbook: "web-attack-block", Status: workflows.RunFailed, Error: "step block: wafv2 GetIPSet: WAFNonexistentItemException: gone (request r-1)",
		Steps: []workflows.StepState{{ID: "block", Status: workflows.StepPending}}}
	blocks, _ := RunStatusMessage("run-1", st, t0())
	if texts := strings.Join(mrkdwnTexts(t, blocks), "\n"); !strings.Contains(texts, "WAFNonexistentItemException: gone (request r-1)") {
		t.Errorf("status message lacks the run's error:\n%s", texts)
	}
}
