package awsfake

// asgState is the fake's AutoScaling state; the Server's mutex guards it.
type asgState struct{}

func newAutoScalingState() *asgState { return &asgState{} }

// registerAutoScaling registers the AutoScaling operations the fake serves.
func registerAutoScaling(*Server) {}

// snapshot returns a deep copy of the state for State; s.mu must be held.
func (st *asgState) snapshot() any { return nil }
