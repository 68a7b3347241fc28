package slack

import (
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/activities"
)

func TestAnnouncementEscapesTheTitle(t *testing.T) {
	got := Renderer{}.Announcement(activities.IncidentCard{
		Key: "INC-2026-0042", Title: "<!channel> DB & <@U0BOSS>", Severity: "SEV2", DeclaredBy: "U0DECL", Channel: "C0INC",
	})
	want := ":rotating_light: <@U0DECL> declared *INC-2026-0042* (SEV2): &lt;!channel&gt; DB &amp; &lt;@U0BOSS&gt; — join <#C0INC>"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestPrivateAnnouncementSaysOnlyWhomToAsk(t *testing.T) {
	got := Renderer{}.Announcement(activities.IncidentCard{
		Key: "INC-2026-0007", Title: "Payroll insider", Severity: "SEV1", DeclaredBy: "U0DECL", Channel: "G0SECRET", Private: true,
	})
	for _, secret := range []string{"INC-2026-0007", "Payroll", "G0SECRET"} {
		if strings.Contains(got, secret) {
			t.Fatalf("private announcement %q shows %q", got, secret)
		}
	}
	if !strings.Contains(got, "private SEV1 incident") || !strings.Contains(got, "ask <@U0DECL>") {
		t.Fatalf("announcement %q", got)
	}
}
