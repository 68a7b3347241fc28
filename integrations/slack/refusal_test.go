package slack

import (
	"testing"

	"go.temporal.io/sdk/temporal"
)

// TestRefusalKeepsChannelLinks: a validator's "use <#C…>" shows as a link,
// and nothing else a refusal carries can become markup.
func TestRefusalKeepsChannelLinks(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"this is not INC-2026-0001's channel; use <#C0ABC1234>", "this is not INC-2026-0001's channel; use <#C0ABC1234>"},
		{"this run belongs to <#G0PRIV99>; vote there", "this run belongs to <#G0PRIV99>; vote there"},
		{"unknown severity \"<!channel>\"", "unknown severity \"&lt;!channel&gt;\""},
		{"<#C0ABC1234|evil label>", "&lt;#C0ABC1234|evil label&gt;"},
		{"<#c0abc1234> <#U0USER123> <#C0-ABC>", "&lt;#c0abc1234&gt; &lt;#U0USER123&gt; &lt;#C0-ABC&gt;"},
		{"<<#C0ABC1234>> & <#C0ABC1234", "&lt;<#C0ABC1234>&gt; &amp; &lt;#C0ABC1234"},
		{"<#<#C0ABC1234>>", "&lt;#<#C0ABC1234>&gt;"},
		{"<#C0ABC1234 <!here>>", "&lt;#C0ABC1234 &lt;!here&gt;&gt;"},
		{"<@U0EVIL> <http://x|y>", "&lt;@U0EVIL&gt; &lt;http://x|y&gt;"},
		{"", ""},
	} {
		got := refusal(temporal.NewApplicationError(tc.msg, "Refused"))
		if got != tc.want {
			t.Errorf("refusal(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}
