package slackfake_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
)

// signedPost builds the request Slack would send to an app endpoint.
func signedPost(t *testing.T, secret, body string, ts time.Time) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	slackfake.SignRequest(req, secret, []byte(body), ts)
	return req
}

func verify(t *testing.T, req *http.Request, secret, body string) error {
	t.Helper()
	sv, err := slack.NewSecretsVerifier(req.Header, secret)
	if err != nil {
		return err
	}
	if _, err := sv.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	return sv.Ensure()
}

func TestSignRequestPassesSlackGoVerification(t *testing.T) {
	body := slackfake.SlashCommandForm(slack.SlashCommand{Command: "/incident", Text: "declare"}).Encode()
	req := signedPost(t, "s3cret", body, time.Now())
	if err := verify(t, req, "s3cret", body); err != nil {
		t.Errorf("valid signature rejected: %v", err)
	}
	if err := verify(t, req, "other", body); err == nil {
		t.Error("signature verified with the wrong secret")
	}
	if err := verify(t, req, "s3cret", body+"&text=tampered"); err == nil {
		t.Error("signature verified over a tampered body")
	}
	if err := verify(t, signedPost(t, "s3cret", body, time.Now().Add(-10*time.Minute)), "s3cret", body); err == nil {
		t.Error("stale timestamp accepted")
	}
}

func TestFormsRoundTrip(t *testing.T) {
	want := slack.SlashCommand{
		Command: "/incident", Text: "declare sev2", UserID: "U1", UserName: "ada",
		ChannelID: "C1", TeamID: "T1", ResponseURL: "https://hooks.example/1", TriggerID: "1.2.3", APIAppID: "A1",
	}
	body := slackfake.SlashCommandForm(want).Encode()
	got, err := slack.SlashCommandParse(signedPost(t, "s", body, time.Now()))
	if err != nil || got != want {
		t.Errorf("slash command round trip = %+v, %v", got, err)
	}

	form, err := slackfake.InteractionForm(slack.InteractionCallback{
		Type: slack.InteractionTypeViewSubmission, User: slack.User{ID: "U1"}, View: slack.View{CallbackID: "approve"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := slack.InteractionCallbackParse(signedPost(t, "s", form.Encode(), time.Now()))
	if err != nil || cb.Type != slack.InteractionTypeViewSubmission || cb.User.ID != "U1" || cb.View.CallbackID != "approve" {
		t.Errorf("interaction round trip = %+v, %v", cb, err)
	}
}
