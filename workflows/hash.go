package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/firebreak-ir/firebreak/activities"
)

// PlanHash binds an approval to exactly what the approver saw: the action,
// its rendered inputs and the plan text. encoding/json writes map keys in
// sorted order, so the hash is stable across replays and processes
// (workflowcheck flags json.Marshal only for its internal type cache).
//
//workflowcheck:ignore
func PlanHash(action string, with map[string]any, p activities.Plan) string {
	return hashJSON(struct {
		Action string          `json:"action"`
		With   map[string]any  `json:"with"`
		Plan   activities.Plan `json:"plan"`
	}{action, with, p})
}

//workflowcheck:ignore
func hashPlan(steps []PlannedStep) string { return hashJSON(steps) }

//workflowcheck:ignore
func hashJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("unencodable: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
