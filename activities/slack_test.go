package activities_test

import (
	"testing"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
)

const token = "xoxb-activities-test"

func slackEnv(t *testing.T) (*testsuite.TestActivityEnvironment, *slackfake.Server) {
	t.Helper()
	fake := slackfake.New(slackfake.WithBotTokens(token))
	t.Cleanup(fake.Close)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.Slack{API: goslack.New(token, goslack.OptionAPIURL(fake.URL()))})
	return env, fake
}

func createChannel(t *testing.T, env *testsuite.TestActivityEnvironment, in activities.CreateChannelInput) activities.ChannelResult {
	t.Helper()
	var s *activities.Slack
	v, err := env.ExecuteActivity(s.CreateIncidentChannel, in)
	if err != nil {
		t.Fatal(err)
	}
	var ch activities.ChannelResult
	if err := v.Get(&ch); err != nil {
		t.Fatal(err)
	}
	return ch
}

// A channel with the incident's name that someone else made (a look-alike,
// or one left from an earlier install) is never adopted.
func TestCreateIncidentChannelNeverAdopts(t *testing.T) {
	env, fake := slackEnv(t)
	squat := fake.AddChannel("", "inc-2026-0042-db-down", slackfake.Members("U0MALLORY"), slackfake.CreatedBy("U0MALLORY"))
	fake.AddChannel("", "inc-2026-0042-db-down-2")
	ch := createChannel(t, env, activities.CreateChannelInput{Key: "INC-2026-0042", Title: "DB down"})
	if ch.ID == squat || ch.Name != "inc-2026-0042-db-down-3" {
		t.Fatalf("got %+v, want a fresh #inc-2026-0042-db-down-3", ch)
	}
	if got, _ := fake.Channel(ch.ID); got.Creator == "" || got.Private {
		t.Fatalf("created %+v", got)
	}
}

func TestCreatePrivateIncidentChannel(t *testing.T) {
	env, fake := slackEnv(t)
	ch := createChannel(t, env, activities.CreateChannelInput{Key: "INC-2026-0007", Title: "Insider", Private: true})
	if got, ok := fake.Channel(ch.ID); !ok || !got.Private {
		t.Fatalf("channel %+v is not private", got)
	}
}

// A retry after a crash (the first attempt's heartbeat holds the channel
// it created) returns that channel instead of making a second one.
func TestCreateIncidentChannelRetryReusesTheFirst(t *testing.T) {
	env, fake := slackEnv(t)
	first := createChannel(t, env, activities.CreateChannelInput{Key: "INC-2026-0042", Title: "DB down"})
	env.SetHeartbeatDetails(first)
	again := createChannel(t, env, activities.CreateChannelInput{Key: "INC-2026-0042", Title: "DB down"})
	if again != first || len(fake.Channels()) != 1 {
		t.Fatalf("retry made %+v; channels %+v", again, fake.Channels())
	}
}
