package slackfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/slack-go/slack"
)

// SignRequest signs req as Slack signs its calls to an app's HTTP
// endpoints: X-Slack-Request-Timestamp and X-Slack-Signature, "v0=" plus
// the hex HMAC-SHA256 of "v0:{timestamp}:{body}" keyed by the signing secret.
func SignRequest(req *http.Request, secret string, body []byte, ts time.Time) {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + stamp + ":"))
	mac.Write(body)
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
}

// SlashCommandForm is the form Slack POSTs to a slash command's request URL.
func SlashCommandForm(cmd slack.SlashCommand) url.Values {
	form := url.Values{
		"token":                 {cmd.Token},
		"team_id":               {cmd.TeamID},
		"team_domain":           {cmd.TeamDomain},
		"channel_id":            {cmd.ChannelID},
		"channel_name":          {cmd.ChannelName},
		"user_id":               {cmd.UserID},
		"user_name":             {cmd.UserName},
		"command":               {cmd.Command},
		"text":                  {cmd.Text},
		"api_app_id":            {cmd.APIAppID},
		"is_enterprise_install": {strconv.FormatBool(cmd.IsEnterpriseInstall)},
		"response_url":          {cmd.ResponseURL},
		"trigger_id":            {cmd.TriggerID},
	}
	if cmd.EnterpriseID != "" {
		form.Set("enterprise_id", cmd.EnterpriseID)
		form.Set("enterprise_name", cmd.EnterpriseName)
	}
	return form
}

// InteractionForm is the form Slack POSTs to an app's interactivity
// request URL: the callback as JSON in the "payload" field.
func InteractionForm(cb slack.InteractionCallback) (url.Values, error) {
	payload, err := json.Marshal(&cb) // MarshalJSON has a pointer receiver
	if err != nil {
		return nil, fmt.Errorf("encode interaction: %w", err)
	}
	return url.Values{"payload": {string(payload)}}, nil
}
