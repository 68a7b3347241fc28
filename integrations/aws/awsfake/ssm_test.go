package awsfake_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	fbaws "github.com/firebreak-ir/firebreak/integrations/aws"
	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
)

func ssmClient(t *testing.T, f *awsfake.Server) *ssm.Client {
	t.Helper()
	id, secret := f.AddUser(prodAccount, "ssm-operator")
	return ssm.New(ssm.Options{Region: "eu-west-1", BaseEndpoint: awssdk.String(f.URL),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""), RetryMaxAttempts: 1, HTTPClient: fbaws.HTTPClient()})
}

func ssmInstance(n int) string { return fmt.Sprintf("i-%017x", n) }

func TestSSMDescribeInstanceInformationFiltersAndPages(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	for i := 1; i <= 7; i++ {
		f.AddManagedInstance(prodAccount, "eu-west-1", ssmInstance(i), map[string]string{"Env": map[bool]string{true: "prod", false: "dev"}[i <= 6]})
	}
	f.AddManagedInstance(prodAccount, "us-east-1", ssmInstance(8), map[string]string{"Env": "prod"})
	c := ssmClient(t, f)
	var ids []string
	pages := ssm.NewDescribeInstanceInformationPaginator(c, &ssm.DescribeInstanceInformationInput{MaxResults: awssdk.Int32(5),
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: awssdk.String("tag:Env"), Values: []string{"prod"}}}})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range page.InstanceInformationList {
			ids = append(ids, awssdk.ToString(in.InstanceId))
			if in.PingStatus != ssmtypes.PingStatusOnline {
				t.Errorf("%s: ping %s", awssdk.ToString(in.InstanceId), in.PingStatus)
			}
		}
	}
	if want := []string{ssmInstance(1), ssmInstance(2), ssmInstance(3), ssmInstance(4), ssmInstance(5), ssmInstance(6)}; !slices.Equal(ids, want) {
		t.Errorf("tag:Env=prod in eu-west-1: %v", ids)
	}
	out, err := c.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: awssdk.String("InstanceIds"), Values: []string{ssmInstance(7), ssmInstance(8), ssmInstance(9)}}}})
	if err != nil || len(out.InstanceInformationList) != 1 || awssdk.ToString(out.InstanceInformationList[0].InstanceId) != ssmInstance(7) {
		t.Errorf("by IDs: %+v %v", out, err)
	}
}

func TestSSMCommandsProgressOnePollAtATimeAndStopAtMaxErrors(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		f.AddManagedInstance(prodAccount, "eu-west-1", ssmInstance(i), nil)
	}
	f.SetCommandOutcome(ssmInstance(1), awsfake.CommandOutcome{Installed: 2, NotApplicable: 9})
	f.SetCommandOutcome(ssmInstance(2), awsfake.CommandOutcome{Status: "Failed", Failed: 1})
	c := ssmClient(t, f)
	sent, err := c.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: awssdk.String("AWS-RunPatchBaseline"),
		InstanceIds: []string{ssmInstance(1), ssmInstance(2), ssmInstance(3)}, Parameters: map[string][]string{"Operation": {"Install"}},
		MaxConcurrency: awssdk.String("1"), MaxErrors: awssdk.String("0"), Comment: awssdk.String("firebreak test")})
	if err != nil {
		t.Fatal(err)
	}
	id := sent.Command.CommandId
	if sent.Command.Status != ssmtypes.CommandStatusPending || sent.Command.RequestedDateTime == nil || sent.Command.TargetCount != 3 {
		t.Fatalf("sent %+v", sent.Command)
	}
	var statuses []string
	for range 4 {
		out, err := c.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: id})
		if err != nil {
			t.Fatal(err)
		}
		cmd := out.Commands[0]
		statuses = append(statuses, fmt.Sprintf("%s/%d/%d", cmd.Status, cmd.CompletedCount, cmd.ErrorCount))
	}
	// Start the first; end it and start the second; the second fails: MaxErrors 0 is exceeded.
	if want := []string{"InProgress/0/0", "InProgress/1/0", "Failed/3/1", "Failed/3/1"}; !slices.Equal(statuses, want) {
		t.Errorf("polls saw %v, want %v", statuses, want)
	}
	inv, err := c.ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{CommandId: id, Details: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range inv.CommandInvocations {
		got = append(got, fmt.Sprintf("%s %s/%s", awssdk.ToString(i.InstanceId), i.Status, awssdk.ToString(i.StatusDetails)))
	}
	if want := []string{ssmInstance(1) + " Success/Success", ssmInstance(2) + " Failed/Failed", ssmInstance(3) + " Cancelled/Terminated"}; !slices.Equal(got, want) {
		t.Errorf("invocations %v", got)
	}
	if p := inv.CommandInvocations[1].CommandPlugins; len(p) != 1 || awssdk.ToString(p[0].Name) != "PatchLinux" || p[0].ResponseCode != 1 {
		t.Errorf("plugins %+v", p)
	}
	states, err := c.DescribeInstancePatchStates(ctx, &ssm.DescribeInstancePatchStatesInput{InstanceIds: []string{ssmInstance(1), ssmInstance(3)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(states.InstancePatchStates) != 1 {
		t.Fatalf("patch states %+v (the instance never run has none)", states.InstancePatchStates)
	}
	s := states.InstancePatchStates[0]
	if s.InstalledCount != 2 || s.NotApplicableCount != 9 || s.Operation != ssmtypes.PatchOperationTypeInstall || !s.OperationEndTime.After(*sent.Command.RequestedDateTime) {
		t.Errorf("patch state %+v", s)
	}
}

func TestSSMSendCommandErrors(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	f.AddManagedInstance(prodAccount, "eu-west-1", ssmInstance(1), nil)
	c := ssmClient(t, f)
	for _, tc := range []struct {
		in   ssm.SendCommandInput
		want string
	}{
		{ssm.SendCommandInput{DocumentName: awssdk.String("AWS-RunShellScript"), InstanceIds: []string{ssmInstance(1), ssmInstance(2)},
			Parameters: map[string][]string{"commands": {"uptime"}}}, "InvalidInstanceId"},
		{ssm.SendCommandInput{DocumentName: awssdk.String("Nope"), InstanceIds: []string{ssmInstance(1)}}, "InvalidDocument"},
		{ssm.SendCommandInput{DocumentName: awssdk.String("AWS-RunPatchBaseline"), InstanceIds: []string{ssmInstance(1)},
			Parameters: map[string][]string{"Operation": {"Upgrade"}}}, "InvalidParameters"},
		{ssm.SendCommandInput{DocumentName: awssdk.String("AWS-RunShellScript"), InstanceIds: []string{ssmInstance(1)},
			Parameters: map[string][]string{"commands": {"uptime"}}, MaxErrors: awssdk.String("-1")}, "ValidationException"},
	} {
		_, err := c.SendCommand(ctx, &tc.in)
		if code, _, _ := apiError(t, err); code != tc.want {
			t.Errorf("%s: %s, want %s", awssdk.ToString(tc.in.DocumentName), code, tc.want)
		}
	}
	_, err := c.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: awssdk.String("00000000-0000-4000-8000-000000000009")})
	if code, _, _ := apiError(t, err); code != "InvalidCommandId" {
		t.Errorf("unknown command: %s", code)
	}
}
