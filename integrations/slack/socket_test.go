package slack

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows"
)

// stuckTemporal answers queries at once, except for one workflow whose
// queries hang until released: a slow Temporal call.
type stuckTemporal struct {
	client.Client
	stuck   string
	once    sync.Once
	started chan struct{}
	release chan struct{}
}

func (s *stuckTemporal) QueryWorkflow(ctx context.Context, workflowID, _, _ string, _ ...any) (converter.EncodedValue, error) {
	if workflowID == s.stuck {
		s.once.Do(func() { close(s.started) })
		select {
		case <-s.release:
		case <-ctx.Done():
		}
	}
	return nil, errors.New("workflow not found")
}

// TestSocketModeHandlesEnvelopesConcurrently: while one command waits on
// a slow Temporal call, the next one is answered.
func TestSocketModeHandlesEnvelopesConcurrently(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	api := goslack.New(slackfake.DefaultBotToken, goslack.OptionAPIURL(fake.URL()), goslack.OptionAppLevelToken(slackfake.DefaultAppToken))
	tc := &stuckTemporal{stuck: workflows.IncidentWorkflowID("INC-2026-0001"), started: make(chan struct{}), release: make(chan struct{})}
	bot, err := NewBot(Options{
		API: api, Temporal: tc, Groups: &Groups{API: api},
		Playbooks:   func() ([]*playbooks.Playbook, error) { return nil, nil },
		CallTimeout: time.Minute, // the stuck call ends only when released
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bot.RunSocketMode(ctx, api) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("socket mode: %v", err)
		}
		bot.Wait()
	})
	wait, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	if err := fake.WaitConnected(wait); err != nil {
		t.Fatal(err)
	}

	slow := make(chan string, 1)
	go func() {
		ack, err := fake.SendSlashCommand(wait, goslack.SlashCommand{Command: "/incident", Text: "status", UserID: "U0A", ChannelID: "C0SLOW", ChannelName: "inc-2026-0001-slow"})
		if err != nil {
			slow <- err.Error()
			return
		}
		slow <- string(ack)
	}()
	select {
	case <-tc.started:
	case <-wait.Done():
		t.Fatal("the first command never reached Temporal")
	}
	// The first command is stuck in Temporal until released below; the
	// second must be acked meanwhile.
	ack, err := fake.SendSlashCommand(wait, goslack.SlashCommand{Command: "/incident", Text: "status", UserID: "U0A", ChannelID: "C0FAST", ChannelName: "inc-2026-0002-fast"})
	if err != nil {
		t.Fatalf("the second command was not acked while the first waited: %v", err)
	}
	if !strings.Contains(string(ack), "INC-2026-0002") {
		t.Fatalf("second ack: %s", ack)
	}
	close(tc.release)
	if got := <-slow; !strings.Contains(got, "INC-2026-0001") {
		t.Fatalf("first ack after release: %s", got)
	}
}
