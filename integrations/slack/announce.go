package slack

import (
	"fmt"

	"github.com/firebreak-ir/firebreak/activities"
)

// Announcement implements activities.Renderer: the message that tells a
// channel (the announce channel, the one the declare came from) about a
// new incident. A private incident's key, title and channel stay out of
// it: the message says only that one exists and whom to ask.
func (Renderer) Announcement(card activities.IncidentCard) string {
	who := "someone"
	if card.DeclaredBy != "" {
		who = "<@" + card.DeclaredBy + ">"
	}
	if card.Private {
		return fmt.Sprintf(":lock: %s declared a private %s incident. Its channel is private; ask %s to be added.", who, card.Severity, who)
	}
	text := fmt.Sprintf(":rotating_light: %s declared *%s* (%s): %s", who, card.Key, card.Severity, esc(card.Title))
	if card.Channel != "" {
		text += fmt.Sprintf(" — join <#%s>", card.Channel)
	}
	return text
}
