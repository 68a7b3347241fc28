package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/test/harness"
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
	d, err := harness.StartDev(bin, filepath.Join(tmp, "data"),
		"SLACK_BOT_TOKEN="+slackfake.DefaultBotToken, "SLACK_SIGNING_SECRET="+benchSecret, "SLACK_API_URL="+fake.URL(),
		"FIREBREAK_LOG_LEVEL=warn")
	if err != nil {
		return err
	}
	defer func() { _ = d.Stop(30 * time.Second) }()
	readyCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := d.WaitReady(readyCtx, d.URL("/readyz")); err != nil {
		return err
	}
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
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return time.Since(t0), nil
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
		errs int
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
				errs++
				return
			}
			lat = append(lat, l)
		}()
	}
	wg.Wait()
	fmt.Printf("| measurement | result | goal |\n|---|---|---|\n")
	fmt.Printf("| signed slash command ack at %d req/s for %s (status + note), p50 / p99 / max over %d | %s / %s / %s (%d errors) | p99 ≤ 100 ms (Slack: 3 s) |\n",
		rps, dur, len(lat), ms(pct(lat, 50)), ms(pct(lat, 99)), ms(pct(lat, 100)), errs)
	fmt.Printf("| `/incident declare` → incident channel created, p50 / p95 over %d | %s / %s | |\n",
		len(toChannel), ms(pct(toChannel, 50)), ms(pct(toChannel, 95)))
	return nil
}
