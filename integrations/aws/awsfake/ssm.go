package awsfake

// ssmState is the fake's SSM state; the Server's mutex guards it.
type ssmState struct{}

func newSSMState() *ssmState { return &ssmState{} }

// registerSSM registers the SSM operations the fake serves.
func registerSSM(*Server) {}

// snapshot returns a deep copy of the state for State; s.mu must be held.
func (st *ssmState) snapshot() any { return nil }
