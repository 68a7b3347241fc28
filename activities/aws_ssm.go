package activities

// ssmActions lists the SSM actions.
func (a *AWS) ssmActions() []Action { return nil }
