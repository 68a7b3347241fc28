package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Search attributes let `firebreak incident list` and the Temporal UI
// filter incidents by severity and status.
var (
	SeverityKey = temporal.NewSearchAttributeKeyKeyword("FirebreakSeverity")
	StatusKey   = temporal.NewSearchAttributeKeyKeyword("FirebreakStatus")
)

// SearchAttributes are the custom attributes a namespace needs; the dev
// server registers them, and operators of a real cluster add them with
// `temporal operator search-attribute create`.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SeverityKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		StatusKey.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}
