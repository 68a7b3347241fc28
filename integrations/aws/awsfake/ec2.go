package awsfake

// ec2State is the fake's EC2 state; the Server's mutex guards it.
type ec2State struct{}

func newEC2State() *ec2State { return &ec2State{} }

// registerEC2 registers the EC2 operations the fake serves.
func registerEC2(*Server) {}

// snapshot returns a deep copy of the state for State; s.mu must be held.
func (st *ec2State) snapshot() any { return nil }
