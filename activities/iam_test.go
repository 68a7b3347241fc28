package activities_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/playbooks"
)

// testAction is an invented action that only declares permissions.
func testAction(name string, perms activities.Permissions) activities.Action {
	return activities.Def[struct{}]{
		Name:        name,
		Permissions: perms,
		PlanFunc: func(context.Context, activities.Request, struct{}) (activities.Plan, error) {
			return activities.Plan{}, nil
		},
		ExecuteFunc: func(context.Context, activities.Request, struct{}) (activities.Result, error) {
			return activities.Result{}, nil
		},
	}
}

func iam(action, resource string) activities.IAMPermission {
	return activities.IAMPermission{Action: action, Resource: resource}
}

func testRegistry(t *testing.T, extra ...activities.Action) *activities.Registry {
	t.Helper()
	actions := append(activities.CoreActions(),
		testAction("test.ec2.snapshot", activities.Permissions{IAM: []activities.IAMPermission{
			iam("ec2:CreateSnapshot", "arn:aws:ec2:*::snapshot/*"),
			iam("ec2:CreateSnapshot", "arn:aws:ec2:*:*:volume/*"),
			iam("ec2:DescribeInstances", "*"),
		}}),
		testAction("test.ec2.isolate", activities.Permissions{IAM: []activities.IAMPermission{
			iam("ec2:ModifyInstanceAttribute", "arn:aws:ec2:*:*:instance/*"),
			iam("ec2:DescribeInstances", "*"),
		}}),
		testAction("test.ec2.release", activities.Permissions{
			IAM: []activities.IAMPermission{
				iam("ec2:ModifyInstanceAttribute", "arn:aws:ec2:*:*:instance/*"),
				iam("ec2:DescribeInstances", "*"),
			},
			Slack: []string{"chat:write"},
		}),
		testAction("test.slack.post", activities.Permissions{Slack: []string{"chat:write"}}),
		testAction("test.github.issue", activities.Permissions{GitHub: []string{"metadata:read", "issues:write"}}),
		testAction("test.secrets.rotate", activities.Permissions{
			IAM: []activities.IAMPermission{
				iam("secretsmanager:RotateSecret", "arn:aws:secretsmanager:*:*:secret:prod/*"),
				iam("secretsmanager:DescribeSecret", "arn:aws:secretsmanager:*:*:secret:prod/*"),
			},
			GitHub: []string{"issues:read", "contents:read"},
		}),
		// Declared on a key ARN and on "*": "*" already covers the ARN.
		testAction("test.kms.describe", activities.Permissions{IAM: []activities.IAMPermission{
			iam("kms:DescribeKey", "arn:aws:kms:*:*:key/*"),
			iam("kms:DescribeKey", "*"),
		}}),
		testAction("test.audit", activities.Permissions{
			IAM: []activities.IAMPermission{
				iam("sts:GetCallerIdentity", "*"),
				iam("s3:PutObject", "arn:aws:s3:::firebreak-audit/*"),
			},
			Slack: []string{"files:write"},
		}),
		// Registered but used by no playbook: must not be granted.
		testAction("test.iam.delete_user", activities.Permissions{
			IAM:    []activities.IAMPermission{iam("iam:DeleteUser", "*")},
			GitHub: []string{"administration:write"},
			Slack:  []string{"admin"},
		}),
	)
	reg, err := activities.NewRegistry(append(actions, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// containPlaybook has permissions in plain steps, a compensation, a
// parallel group, a called playbook and a playbook that one calls, shaped
// like the loader's output: only the top level carries Calls, holding
// everything reachable.
func containPlaybook() *playbooks.Playbook {
	audit := &playbooks.Playbook{
		Metadata: playbooks.Metadata{Name: "audit"},
		Steps:    []playbooks.Step{{ID: "record", Kind: playbooks.KindAction, Action: "test.audit"}},
	}
	rotate := &playbooks.Playbook{
		Metadata: playbooks.Metadata{Name: "rotate-creds"},
		Steps: []playbooks.Step{
			{ID: "rotate", Kind: playbooks.KindAction, Action: "test.secrets.rotate",
				Compensate: &playbooks.Compensate{Action: "test.kms.describe"}},
			{ID: "audit", Kind: playbooks.KindCall, Call: &playbooks.Call{Playbook: "audit"}},
		},
	}
	return &playbooks.Playbook{
		Metadata: playbooks.Metadata{Name: "contain"},
		Steps: []playbooks.Step{
			{ID: "snapshot", Kind: playbooks.KindAction, Action: "test.ec2.snapshot"},
			{ID: "isolate", Kind: playbooks.KindAction, Action: "test.ec2.isolate",
				Compensate: &playbooks.Compensate{Action: "test.ec2.release"},
				Approval:   &playbooks.Approval{Group: "commanders", Min: 1}},
			{ID: "notify", Kind: playbooks.KindParallel, Parallel: []playbooks.Step{
				{ID: "post", Kind: playbooks.KindAction, Action: "test.slack.post"},
				{ID: "ticket", Kind: playbooks.KindAction, Action: "test.github.issue"},
				{ID: "ack", Kind: playbooks.KindManual, Manual: &playbooks.Manual{Task: "ack"}},
			}},
			{ID: "settle", Kind: playbooks.KindWait, Wait: &playbooks.Wait{Signal: "settled"}},
			{ID: "rotate", Kind: playbooks.KindCall, Call: &playbooks.Call{Playbook: "rotate-creds"}},
			{ID: "log", Kind: playbooks.KindAction, Action: "core.log"},
		},
		Calls: map[string]*playbooks.Playbook{"rotate-creds": rotate, "audit": audit},
	}
}

func TestIAMPolicy(t *testing.T) {
	reg := testRegistry(t)
	pol, err := activities.IAMPolicy(reg, containPlaybook())
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(pol, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// Two ec2 statements (different resources) get distinct Sids; actions
	// on "*" share one statement across services; kms:DescribeKey is on
	// "*" only; iam:DeleteUser, which no step uses, is absent.
	want := `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Ec2",
      "Effect": "Allow",
      "Action": [
        "ec2:CreateSnapshot"
      ],
      "Resource": [
        "arn:aws:ec2:*:*:volume/*",
        "arn:aws:ec2:*::snapshot/*"
      ]
    },
    {
      "Sid": "Ec2Stmt2",
      "Effect": "Allow",
      "Action": [
        "ec2:ModifyInstanceAttribute"
      ],
      "Resource": [
        "arn:aws:ec2:*:*:instance/*"
      ]
    },
    {
      "Sid": "Ec2KmsSts",
      "Effect": "Allow",
      "Action": [
        "ec2:DescribeInstances",
        "kms:DescribeKey",
        "sts:GetCallerIdentity"
      ],
      "Resource": [
        "*"
      ]
    },
    {
      "Sid": "S3",
      "Effect": "Allow",
      "Action": [
        "s3:PutObject"
      ],
      "Resource": [
        "arn:aws:s3:::firebreak-audit/*"
      ]
    },
    {
      "Sid": "Secretsmanager",
      "Effect": "Allow",
      "Action": [
        "secretsmanager:DescribeSecret",
        "secretsmanager:RotateSecret"
      ],
      "Resource": [
        "arn:aws:secretsmanager:*:*:secret:prod/*"
      ]
    }
  ]
}`
	if string(got) != want {
		t.Fatalf("policy:\n%s\nwant:\n%s", got, want)
	}

	// Maps are involved along the way; the output must not depend on
	// their iteration order.
	for range 20 {
		again, err := activities.IAMPolicy(reg, containPlaybook())
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := json.MarshalIndent(again, "", "  "); string(b) != want {
			t.Fatalf("policy changed between calls:\n%s", b)
		}
	}
}

func TestPlaybookPermissions(t *testing.T) {
	perms, err := activities.PlaybookPermissions(testRegistry(t), containPlaybook())
	if err != nil {
		t.Fatal(err)
	}
	// issues:read is dropped because issues:write includes it.
	if want := []string{"contents:read", "issues:write", "metadata:read"}; !reflect.DeepEqual(perms.GitHub, want) {
		t.Errorf("GitHub = %q, want %q", perms.GitHub, want)
	}
	if want := []string{"chat:write", "files:write"}; !reflect.DeepEqual(perms.Slack, want) {
		t.Errorf("Slack = %q, want %q", perms.Slack, want)
	}
	want := []activities.IAMPermission{
		iam("ec2:CreateSnapshot", "arn:aws:ec2:*:*:volume/*"),
		iam("ec2:CreateSnapshot", "arn:aws:ec2:*::snapshot/*"),
		iam("ec2:DescribeInstances", "*"),
		iam("ec2:ModifyInstanceAttribute", "arn:aws:ec2:*:*:instance/*"),
		iam("kms:DescribeKey", "*"),
		iam("kms:DescribeKey", "arn:aws:kms:*:*:key/*"),
		iam("s3:PutObject", "arn:aws:s3:::firebreak-audit/*"),
		iam("secretsmanager:DescribeSecret", "arn:aws:secretsmanager:*:*:secret:prod/*"),
		iam("secretsmanager:RotateSecret", "arn:aws:secretsmanager:*:*:secret:prod/*"),
		iam("sts:GetCallerIdentity", "*"),
	}
	if !reflect.DeepEqual(perms.IAM, want) {
		t.Errorf("IAM =\n%v\nwant\n%v", perms.IAM, want)
	}
}

func TestIAMPolicyWithoutAWS(t *testing.T) {
	pb := &playbooks.Playbook{
		Metadata: playbooks.Metadata{Name: "chatty"},
		Steps: []playbooks.Step{
			{ID: "log", Kind: playbooks.KindAction, Action: "core.log"},
			{ID: "post", Kind: playbooks.KindAction, Action: "test.slack.post"},
		},
	}
	pol, err := activities.IAMPolicy(testRegistry(t), pb)
	if err != nil {
		t.Fatal(err)
	}
	if len(pol.Statement) != 0 || pol.Version != activities.PolicyVersion {
		t.Fatalf("policy = %+v, want version %s and no statements", pol, activities.PolicyVersion)
	}
}

func TestPlaybookPermissionsErrors(t *testing.T) {
	bad := testAction("test.bad", activities.Permissions{IAM: []activities.IAMPermission{iam("ModifyInstanceAttribute", "*")}})
	noResource := testAction("test.noresource", activities.Permissions{IAM: []activities.IAMPermission{iam("ec2:StopInstances", "")}})
	reg := testRegistry(t, bad, noResource)
	for name, tc := range map[string]struct {
		edit func(pb *playbooks.Playbook)
		want string
	}{
		"unknown action": {
			func(pb *playbooks.Playbook) { pb.Steps[0].Action = "test.ec2.snapshots" },
			`playbook "contain" step "snapshot": unknown action "test.ec2.snapshots"`,
		},
		"unknown compensation": {
			func(pb *playbooks.Playbook) { pb.Steps[1].Compensate.Action = "test.ec2.unisolate" },
			`playbook "contain" step "isolate (compensate)": unknown action "test.ec2.unisolate"`,
		},
		"unknown action in a parallel group": {
			func(pb *playbooks.Playbook) { pb.Steps[2].Parallel[1].Action = "test.github.issues" },
			`playbook "contain" step "ticket": unknown action "test.github.issues"`,
		},
		"unknown action in a nested call": {
			func(pb *playbooks.Playbook) { pb.Calls["audit"].Steps[0].Action = "test.audits" },
			`playbook "audit" step "record": unknown action "test.audits"`,
		},
		"callee not loaded": {
			func(pb *playbooks.Playbook) { delete(pb.Calls, "audit") },
			`playbook "rotate-creds" step "audit": calls playbook "audit", which was not loaded with it`,
		},
		"malformed IAM action": {
			func(pb *playbooks.Playbook) { pb.Steps[0].Action = "test.bad" },
			`action test.bad declares IAM action "ModifyInstanceAttribute": want service:Action`,
		},
		"IAM action without resource": {
			func(pb *playbooks.Playbook) { pb.Steps[0].Action = "test.noresource" },
			`action test.noresource declares IAM action ec2:StopInstances without a resource`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			pb := containPlaybook()
			tc.edit(pb)
			_, err := activities.IAMPolicy(reg, pb)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if _, err := activities.PlaybookPermissions(reg, pb); err == nil {
				t.Fatal("PlaybookPermissions accepted what IAMPolicy rejected")
			}
		})
	}
}

// Permissions declared per input are granted only to steps that set that input, and a
// compensation without its own `with` is judged by its step's.
func TestPlaybookPermissionsByInput(t *testing.T) {
	deny := testAction("test.iam.deny", activities.Permissions{IAMByInput: map[string][]activities.IAMPermission{
		"user_name": {iam("iam:PutUserPolicy", "arn:aws:iam::*:user/*")},
		"role_name": {iam("iam:PutRolePolicy", "arn:aws:iam::*:role/*")},
	}})
	reg := testRegistry(t, deny)
	pb := &playbooks.Playbook{
		Metadata: playbooks.Metadata{Name: "deny-user"},
		Steps: []playbooks.Step{{ID: "deny", Kind: playbooks.KindAction, Action: "test.iam.deny",
			With: map[string]any{"user_name": "${{ inputs.user }}"}, Compensate: &playbooks.Compensate{Action: "test.iam.deny"}}},
	}
	perms, err := activities.PlaybookPermissions(reg, pb)
	if err != nil {
		t.Fatal(err)
	}
	if want := []activities.IAMPermission{iam("iam:PutUserPolicy", "arn:aws:iam::*:user/*")}; !reflect.DeepEqual(perms.IAM, want) {
		t.Errorf("user only: IAM = %v, want %v", perms.IAM, want)
	}
	pb.Steps[0].Compensate.With = map[string]any{"role_name": "app"}
	perms, err = activities.PlaybookPermissions(reg, pb)
	if err != nil {
		t.Fatal(err)
	}
	if len(perms.IAM) != 2 {
		t.Errorf("user step, role compensation: IAM = %v, want both", perms.IAM)
	}
}
