package activities

// ec2Actions lists the EC2 (and Auto Scaling) actions.
func (a *AWS) ec2Actions() []Action { return nil }
