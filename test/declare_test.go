package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/workflows"
)

// declareAt sends a signed /incident declare from goroutines (it does
// not fail the test itself) and returns the decoded answer.
func (e *slackEnv) declareAt(user, title, trigger string, headers map[string]string) (map[string]any, error) {
	form := slackfake.SlashCommandForm(goslack.SlashCommand{
		Command: "/incident", Text: fmt.Sprintf("declare %q sev2", title), UserID: user, ChannelID: "C0GENERAL", ChannelName: "general",
		TriggerID: trigger, ResponseURL: e.fake.NewResponseURL(),
	})
	body := []byte(form.Encode())
	req, err := http.NewRequest(http.MethodPost, e.dev+"/slack/commands", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	slackfake.SignRequest(req, signingSecret, body, time.Now())
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("%w: %s", err, out)
	}
	return m, nil
}

// acked says whether a declare's answer is its ack in the channel.
func acked(ack map[string]any, title string) bool {
	text, _ := ack["text"].(string)
	return ack["response_type"] == "in_channel" && strings.Contains(text, "is declaring *"+title+"*")
}

// queued says whether a declare's answer is the honest "busy" one: told
// to the declarer alone, queued and retried by the bot.
func queued(ack map[string]any, title string) bool {
	text, _ := ack["text"].(string)
	return ack["response_type"] == "ephemeral" && strings.Contains(text, "your declare of *"+title+"* is queued and retried")
}

// grepLines keeps the lines of out that contain s.
func grepLines(out, s string) string {
	var keep []string
	for line := range strings.Lines(out) {
		if strings.Contains(line, s) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}

// incidentIDs lists the IncidentWorkflow executions Temporal knows.
func incidentIDs(t *testing.T, c client.Client) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	var token []byte
	for {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: "WorkflowType = 'IncidentWorkflow'", PageSize: 1000, NextPageToken: token,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range resp.GetExecutions() {
			ids[ex.GetExecution().GetWorkflowId()] = true
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ids
		}
	}
}

var burstChannelRe = regexp.MustCompile(`^inc-(\d{4}-\d{4,})-burst-incident-(\d+)`)

// burstChannels maps the incident channels of the burst to their
// declare's number, and counts every incident channel.
func (e *slackEnv) burstChannels() (byNumber map[string][]string, incidents int) {
	byNumber = map[string][]string{}
	for _, c := range e.fake.Channels() {
		if !strings.HasPrefix(c.Name, "inc-") {
			continue
		}
		incidents++
		if m := burstChannelRe.FindStringSubmatch(c.Name); m != nil {
			byNumber[m[2]] = append(byNumber[m[2]], "INC-"+m[1])
		}
	}
	return byNumber, incidents
}

func declared(t *testing.T, c client.Client, requestID string) workflows.DeclareResult {
	t.Helper()
	v, err := c.QueryWorkflow(context.Background(), workflows.RegistryWorkflowID, "", workflows.QueryDeclared, requestID)
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.DeclareResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// waitLong is waitFor with room for a burst of incidents to settle on
// the embedded server.
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 3 minutes", what)
		}
		<-time.After(200 * time.Millisecond)
	}
}

// TestDeclareBurstExactlyOnce: 100 people declare at the same moment.
// Every declare is acked (or, on a slow server, honestly queued), and exactly 100 incidents and 100 channels
// appear, one per declare. Slack resending one, and a person typing one
// again, create nothing; a declare refused at the door creates nothing.
func TestDeclareBurstExactlyOnce(t *testing.T) {
	const n = 100
	e := startSlackDev(t)
	e.fake.AddChannel("C0GENERAL", "general", slackfake.Members(e.fake.BotUserID()))
	c := dial(t, e.d.TemporalAddr)

	acks := make([]map[string]any, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			acks[i], errs[i] = e.declareAt(fmt.Sprintf("U0P%03d", i), fmt.Sprintf("burst incident %d", i), fmt.Sprintf("burst-%d", i), nil)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("declare %d: %v", i, errs[i])
		}
		// A slow server (a -race build, a loaded machine) may answer
		// "busy, queued": honest, and the bot retries it with the same
		// request ID, so it must still end in exactly one incident below.
		if !acked(acks[i], fmt.Sprintf("burst incident %d", i)) && !queued(acks[i], fmt.Sprintf("burst incident %d", i)) {
			t.Fatalf("declare %d was neither acked nor queued: %v\n%s", i, acks[i], grepLines(e.d.Output(), "declare"))
		}
	}

	waitLong(t, "an incident and a channel per declare", func() bool {
		_, channels := e.burstChannels()
		return len(incidentIDs(t, c)) >= n && channels >= n
	})
	byNumber, channels := e.burstChannels()
	ids := incidentIDs(t, c)
	if len(ids) != n || channels != n || len(byNumber) != n {
		t.Fatalf("%d declares acked: %d incidents, %d incident channels (%d distinct declares)", n, len(ids), channels, len(byNumber))
	}
	for num, keys := range byNumber {
		if len(keys) != 1 || !ids[workflows.IncidentWorkflowID(keys[0])] {
			t.Fatalf("declare %s has channels for %v; incidents %v", num, keys, ids)
		}
	}

	// Slack resends declare 7; then its declarer types it again.
	first := declared(t, c, "burst-7")
	if first.Key == "" {
		t.Fatalf("the registry does not know burst-7: %+v", first)
	}
	again, err := e.declareAt("U0P007", "burst incident 7", "burst-7", map[string]string{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
	if err != nil || !acked(again, "burst incident 7") {
		t.Fatalf("Slack's retry answered %v (%v)", again, err)
	}
	retyped, err := e.declareAt("U0P007", "Burst incident 7!", "retype-7", nil)
	if err != nil || !acked(retyped, "Burst incident 7!") {
		t.Fatalf("re-typed declare: %v (%v)", retyped, err)
	}
	notice := e.messageWith("C0GENERAL", "you already declared this incident")
	if !strings.Contains(notice.Text, "<@U0P007>") || !strings.Contains(notice.Text, first.Key) {
		t.Fatalf("notice: %q, want it to name %s", notice.Text, first.Key)
	}
	if res := declared(t, c, "retype-7"); res.Key != first.Key || !res.Existing {
		t.Fatalf("re-typed declare got %+v, want the existing %s", res, first.Key)
	}
	if res := declared(t, c, "burst-7"); res != first {
		t.Fatalf("after Slack's retry burst-7 is %+v, was %+v", res, first)
	}

	// Refused before anything is sent: no trigger ID to make it safe.
	refused, err := e.declareAt("U0P200", "no trigger", "", nil)
	if err != nil || refused["response_type"] != "ephemeral" || !strings.Contains(refused["text"].(string), "Not declared") {
		t.Fatalf("declare without a trigger ID: %v (%v)", refused, err)
	}

	// The registry's signals are handled in order, so once it has
	// answered a later declare, the ones above are settled too.
	if _, err := e.declareAt("U0P201", "after the repeats", "after-repeats", nil); err != nil {
		t.Fatal(err)
	}
	waitLong(t, "the registry takes a later declare", func() bool { return declared(t, c, "after-repeats").Key != "" })
	waitLong(t, "its channel", func() bool { _, channels := e.burstChannels(); return channels == n+1 })
	if ids := incidentIDs(t, c); len(ids) != n+1 {
		t.Fatalf("%d incidents after the repeats and one new declare, want %d", len(ids), n+1)
	}
}

// TestDeclareAfterRegistryReset: a registry that was terminated starts
// afresh counting from zero; it skips the keys earlier incidents hold
// instead of failing every declare.
func TestDeclareAfterRegistryReset(t *testing.T) {
	e := startSlackDev(t)
	e.fake.AddChannel("C0GENERAL", "general", slackfake.Members(e.fake.BotUserID()))
	c := dial(t, e.d.TemporalAddr)
	env := []string{"TEMPORAL_ADDRESS=" + e.d.TemporalAddr, "FIREBREAK_LOG_LEVEL=warn"}

	code, out := cli(t, env, "incident", "declare", "DB down", "--as", "U0DECL")
	if code != 0 || !strings.Contains(out, "declared (workflow incident-INC-") {
		t.Fatalf("CLI declare: exit %d\n%s", code, out)
	}
	firstKey := regexp.MustCompile(`INC-\d{4}-\d{4}`).FindString(out)
	// The same person declaring the same title again gets that incident.
	if code, out := cli(t, env, "incident", "declare", "db down", "--as", "U0DECL"); code != 0 || !strings.Contains(out, firstKey+" already declared") {
		t.Fatalf("repeated CLI declare: exit %d\n%s", code, out)
	}
	if err := c.TerminateWorkflow(context.Background(), workflows.RegistryWorkflowID, "", "test: the registry is reset"); err != nil {
		t.Fatal(err)
	}
	code, out = cli(t, env, "incident", "declare", "Cache down", "--as", "U0DECL")
	next := regexp.MustCompile(`INC-\d{4}-\d{4}`).FindString(out)
	if code != 0 || next == "" || next == firstKey {
		t.Fatalf("declare after the reset: exit %d, key %q (the first was %s)\n%s", code, next, firstKey, out)
	}
	if ids := incidentIDs(t, c); len(ids) != 2 {
		t.Fatalf("incidents %v, want 2", ids)
	}
}
