package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
)

const benchSecret = "bench-signing-secret"

// benchSlack measures what Slack sees: how fast signed slash commands are
// acknowledged under a steady 50 requests per second, and how long a
// declare takes to produce its channel.
func benchSlack(rps int, dur time.Duration, declares int) error {
	ctx := context.Background()
	tmp, bin, err := build(ctx)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fake := slackfake.New()
	defer fake.Close()
	fake.AddUser("U0BENCH", "bench")
	d, _, err := startReady(ctx, bin, filepath.Join(tmp, "data"),
		"SLACK_BOT_TOKEN="+slackfake.DefaultBotToken, "SLACK_SIGNING_SECRET="+benchSecret, "SLACK_API_URL="+fake.URL(),
		"FIREBREAK_LOG_LEVEL=warn")
	if err != nil {
		return err
	}
	defer func() { _ = d.Stop(30 * time.Second) }()
	hc := &http.Client{Timeout: 10 * time.Second}
	send := func(text, channelID, channelName, trigger string) (time.Duration, error) {
		body := []byte(slackfake.SlashCommandForm(goslack.SlashCommand{
			Command: "/incident", Text: text, UserID: "U0BENCH", ChannelID: channelID, ChannelName: channelName, TriggerID: trigger,
		}).Encode())
		req, err := http.NewRequest(http.MethodPost, d.URL("/slack/commands"), bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		slackfake.SignRequest(req, benchSecret, body, time.Now())
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		reply, err := io.ReadAll(resp.Body)
		lat := time.Since(t0)
		if err != nil {
			return 0, fmt.Errorf("read reply: %w", err)
		}
		if kind := replyError(resp.StatusCode, reply); kind != "" {
			return 0, errors.New(kind)
		}
		return lat, nil
	}

	// Declare → channel created, one at a time.
	var toChannel []time.Duration
	for i := range declares {
		before := len(fake.Channels())
		t0 := time.Now()
		if _, err := send(fmt.Sprintf(`declare "bench incident %d" sev3`, i), "C0GEN", "general", fmt.Sprintf("decl-%d", i)); err != nil {
			return err
		}
		deadline := time.Now().Add(30 * time.Second)
		for len(fake.Channels()) == before {
			if time.Now().After(deadline) {
				return fmt.Errorf("declare %d: no channel after 30s", i)
			}
			time.Sleep(2 * time.Millisecond) // polling the in-process fake; the wait is what is measured
		}
		toChannel = append(toChannel, time.Since(t0))
	}
	var ch slackfake.Channel
	for _, c := range fake.Channels() {
		if strings.HasPrefix(c.Name, "inc-") {
			ch = c
			break
		}
	}

	// Open-loop load: a request every 1/rps whatever the answers do, half
	// status queries and half timeline notes (an update each).
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs = map[string]int{} // by kind
		wg   sync.WaitGroup
	)
	tick := time.NewTicker(time.Second / time.Duration(rps))
	defer tick.Stop()
	end := time.Now().Add(dur)
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			text := "status"
			if i%2 == 1 {
				text = fmt.Sprintf("note load %d", i)
			}
			l, err := send(text, ch.ID, ch.Name, fmt.Sprintf("load-%d", i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[err.Error()]++
				return
			}
			lat = append(lat, l)
		}()
	}
	wg.Wait()
	if len(lat) == 0 {
		return fmt.Errorf("no slash command was answered: %s", errorSummary(errs))
	}
	fmt.Printf("| measurement | result | goal |\n|---|---|---|\n")
	fmt.Printf("| signed slash command ack at %d req/s for %s (status + note), p50 / p99 / max over %d | %s / %s / %s (%s) | p99 ≤ 100 ms (Slack: 3 s) |\n",
		rps, dur, len(lat), ms(pct(lat, 50)), ms(pct(lat, 99)), ms(pct(lat, 100)), errorSummary(errs))
	fmt.Printf("| `/incident declare` → incident channel created, p50 / p95 over %d | %s / %s | |\n",
		len(toChannel), ms(pct(toChannel, 50)), ms(pct(toChannel, 95)))
	return nil
}

var benchChannelRe = regexp.MustCompile(`^inc-\d{4}-\d{4,}-bench-incident-(\d+)`)

// benchDeclare sends signed declares open-loop, rps a second for dur, each
// with its own title, and measures what Slack and
// the people see: every declare acked fast, and once the backlog has
// drained, one incident and one channel per declare, no duplicates.
func benchDeclare(rps int, dur time.Duration) error {
	ctx := context.Background()
	tmp, bin, err := build(ctx)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fake := slackfake.New()
	defer fake.Close()
	fake.AddUser("U0BENCH", "bench")
	fake.AddChannel("C0GEN", "general", slackfake.Members(fake.BotUserID()))
	d, _, err := startReady(ctx, bin, filepath.Join(tmp, "data"),
		"SLACK_BOT_TOKEN="+slackfake.DefaultBotToken, "SLACK_SIGNING_SECRET="+benchSecret, "SLACK_API_URL="+fake.URL(),
		"FIREBREAK_LOG_LEVEL=warn")
	if err != nil {
		return err
	}
	defer func() { _ = d.Stop(30 * time.Second) }()
	c, err := client.Dial(client.Options{HostPort: d.TemporalAddr})
	if err != nil {
		return err
	}
	defer c.Close()

	hc := &http.Client{Timeout: 10 * time.Second}
	type outcome struct {
		lat           time.Duration
		acked, queued bool
		err           string
	}
	send := func(i int) outcome {
		body := []byte(slackfake.SlashCommandForm(goslack.SlashCommand{
			Command: "/incident", Text: fmt.Sprintf(`declare "bench incident %d" sev3`, i), UserID: "U0BENCH",
			ChannelID: "C0GEN", ChannelName: "general", TriggerID: fmt.Sprintf("bench-declare-%d", i), ResponseURL: fake.NewResponseURL(),
		}).Encode())
		req, err := http.NewRequest(http.MethodPost, d.URL("/slack/commands"), bytes.NewReader(body))
		if err != nil {
			return outcome{err: err.Error()}
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		slackfake.SignRequest(req, benchSecret, body, time.Now())
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return outcome{err: err.Error()}
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		o := outcome{lat: time.Since(t0)}
		if err != nil {
			o.err = "unreadable reply"
			return o
		}
		switch kind := replyError(resp.StatusCode, raw); kind {
		case "":
			// A real answer must be the declare's ack, in the channel.
			var ack struct {
				ResponseType string `json:"response_type"`
				Text         string `json:"text"`
			}
			_ = json.Unmarshal(raw, &ack)
			if ack.ResponseType == goslack.ResponseTypeInChannel && strings.Contains(ack.Text, "is declaring") {
				o.acked = true
			} else {
				o.err = "not a declare ack"
			}
		case "busy":
			o.queued = true // honest, and retried by the bot: it must still end in one incident
		default:
			o.err = kind
		}
		return o
	}

	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
	)
	fmt.Fprintf(os.Stderr, "sending %d declares/s for %s...\n", rps, dur)
	tick := time.NewTicker(time.Second / time.Duration(rps))
	defer tick.Stop()
	started := time.Now()
	for i := 0; time.Since(started) < dur; i++ {
		<-tick.C
		wg.Go(func() {
			o := send(i)
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, o)
		})
	}
	wg.Wait()
	sent := time.Since(started)
	var lat []time.Duration
	acked, queued := 0, 0
	errs := map[string]int{}
	for _, o := range outcomes {
		switch {
		case o.acked:
			acked++
			lat = append(lat, o.lat)
		case o.queued:
			queued++
			lat = append(lat, o.lat)
		default:
			errs[o.err]++
		}
	}

	// Drain: wait until every taken declare has its incident and channel
	// (or the deadline says the backlog did not drain).
	want := acked + queued
	count := func() (incidents, channels, dupChannels int, err error) {
		var token []byte
		for {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: "default", Query: "WorkflowType = 'IncidentWorkflow'", PageSize: 1000, NextPageToken: token,
			})
			if err != nil {
				return 0, 0, 0, err
			}
			incidents += len(resp.GetExecutions())
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
		per := map[string]int{}
		for _, ch := range fake.Channels() {
			if m := benchChannelRe.FindStringSubmatch(ch.Name); m != nil {
				channels++
				per[m[1]]++
			}
		}
		for _, n := range per {
			dupChannels += n - 1
		}
		return incidents, channels, dupChannels, nil
	}
	fmt.Fprintf(os.Stderr, "waiting for %d incidents and channels...\n", want)
	deadline := time.Now().Add(30 * time.Minute)
	var incidents, channels, dupChannels int
	counted, done := false, false
	for !done && time.Now().Before(deadline) {
		i, ch, dup, err := count()
		if err != nil {
			// The server is still busy with the backlog (visibility
			// queries are throttled first); ask again.
			fmt.Fprintln(os.Stderr, "count incidents:", err)
		} else {
			incidents, channels, dupChannels, counted = i, ch, dup, true
			done = incidents >= want && channels >= want
		}
		time.Sleep(2 * time.Second) // polling the server and the fake; the drain time is reported, not judged
	}
	drained := time.Since(started)
	if !counted {
		return fmt.Errorf("could not count incidents within %s", 30*time.Minute)
	}
	drainedText := fmt.Sprintf("drained %.0f s after the first declare", drained.Seconds())
	if !done {
		drainedText = fmt.Sprintf("NOT drained %.0f s after the first declare", drained.Seconds())
	}
	// Incidents beyond one per declare, and channels beyond one per title.
	dups := dupChannels + max(0, incidents-want)

	fmt.Printf("| measurement | result | goal |\n|---|---|---|\n")
	fmt.Printf("| signed `/incident declare` at %d/s for %s: acked / queued (busy, retried) of %d | %d / %d (%s) | all acked |\n",
		rps, dur, len(outcomes), acked, queued, errorSummary(errs))
	fmt.Printf("| ack p50 / p99 / max | %s / %s / %s | p99 ≤ 300 ms |\n", ms(pct(lat, 50)), ms(pct(lat, 99)), ms(pct(lat, 100)))
	fmt.Printf("| incidents (IncidentWorkflow executions) / incident channels once the backlog drained (%s; sending took %.0f s) | %d / %d | = declares taken (%d) |\n",
		drainedText, sent.Seconds(), incidents, channels, want)
	fmt.Printf("| duplicates (a second incident or channel for one declare) | %d | 0 |\n", dups)
	return nil
}

// replyError says what went wrong with a slash command's answer, or ""
// when it is a real answer. Slack shows whatever a 200 carries, so a 200
// whose text is a refusal or an error counts as an error, by kind.
func replyError(status int, body []byte) string {
	if status != http.StatusOK {
		return fmt.Sprintf("HTTP %d", status)
	}
	var r struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "unreadable reply"
	}
	text := strings.ToLower(strings.TrimSpace(r.Text))
	for _, k := range []struct {
		kind, marker string
		anywhere     bool
	}{
		// What refusal() says of infrastructure trouble comes after
		// "Could not …: ", so it is looked for first, anywhere.
		{"timed out", "did not answer in time", true},
		{"internal error", "something went wrong", true},
		{"busy", "is busy", true},
		{"busy", "try again in", true},
		{"unknown incident", "not known to firebreak", true},
		{"not allowed", "not allowed", true},
		// Refusals start the reply; an answer may quote such words later.
		{"refused", "could not", false},
		{"refused", "not done", false},
		{"refused", "your vote was not counted", false},
		{"refused", "no playbook", false},
		{"refused", "no step", false},
		{"wrong channel", "`/incident", false},
	} {
		if (k.anywhere && strings.Contains(text, k.marker)) || strings.HasPrefix(text, k.marker) {
			return k.kind
		}
	}
	if strings.TrimSpace(r.Text) == "" {
		return "empty reply"
	}
	return ""
}

// errorSummary is "0 errors", or the count by kind, most frequent first.
func errorSummary(errs map[string]int) string {
	total := 0
	kinds := make([]string, 0, len(errs))
	for k, n := range errs {
		total += n
		kinds = append(kinds, k)
	}
	if total == 0 {
		return "0 errors"
	}
	slices.SortFunc(kinds, func(a, b string) int {
		return cmp.Or(cmp.Compare(errs[b], errs[a]), cmp.Compare(a, b))
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", errs[k], k)
	}
	return fmt.Sprintf("%d errors: %s", total, strings.Join(parts, ", "))
}
