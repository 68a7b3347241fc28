package workflows

import "github.com/firebreak-ir/firebreak/playbooks"

// expr evaluates the playbook's CEL expressions inside workflow code.
// Evaluation is a pure function of the expression text and the variables
// (no clock, no randomness, map iteration in sorted key order), so replay
// sees the same values. workflowcheck cannot tell: cel-go ranges over maps
// while it builds its type registry, which is why each method carries an
// ignore directive.
type expr struct{ ev *playbooks.Evaluator }

//workflowcheck:ignore
func newExpr() expr { return expr{ev: playbooks.NewEvaluator()} }

//workflowcheck:ignore
func (e expr) EvalBool(s string, v playbooks.Vars) (bool, error) { return e.ev.EvalBool(s, v) }

//workflowcheck:ignore
func (e expr) Render(with map[string]any, v playbooks.Vars) (map[string]any, error) {
	return e.ev.Render(with, v)
}

//workflowcheck:ignore
func (e expr) RenderString(s string, v playbooks.Vars) (string, error) {
	return e.ev.RenderString(s, v)
}

// resolveInputs types a call step's inputs; it compiles regular
// expressions and reads maps, but its result depends on its arguments only.
//
//workflowcheck:ignore
func resolveInputs(pb *playbooks.Playbook, with map[string]any) (map[string]any, error) {
	return playbooks.ResolveInputValues(pb, with)
}
