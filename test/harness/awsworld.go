package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
)

// The AWS world the shipped AWS playbooks are tried against: the worker's own credentials live in
// the security account; playbooks act in prod through a role.
const (
	AWSSecAccount  = "111111111111"
	AWSProdAccount = "222222222222"
	AWSProdRole    = "arn:aws:iam::222222222222:role/firebreak-responder"
	AWSRegion      = "eu-west-1"
)

// AWSWorld names what SeedAWS put in the fake.
type AWSWorld struct {
	// Instance is a running web server in an Auto Scaling group, with an instance profile, two
	// volumes and CloudTrail events made with its role's credentials.
	Instance        string
	InstanceProfile string
	// LeakedKey is an active access key of IAM user "ci-deploy", with CloudTrail events.
	LeakedKey, LeakedKeyUser string
	// IPSet is a regional IPv4 WAF IP set that already blocks one address.
	IPSet string
	// Fleet are the instances SSM manages with tag PatchGroup=web; Canary is the first.
	Fleet  []string
	Canary string
}

// SeedAWS fills f with the prod account's resources for the AWS playbooks; events are dated
// from now back, so a lookback of hours finds them.
func SeedAWS(f *awsfake.Server) AWSWorld {
	w := AWSWorld{Instance: "i-0a1b2c3d4e5f60718", LeakedKeyUser: "ci-deploy"}
	f.AddRole(AWSProdRole)
	f.AddIAMRole(AWSProdAccount, awsfake.IAMRole{Name: "web-server"})
	w.InstanceProfile = f.AddInstanceProfile(AWSProdAccount, "web-server", "web-server")
	f.AddSecurityGroup(AWSProdAccount, AWSRegion, awsfake.SecurityGroup{ID: "sg-0a1b2c3d4e5f60718", Name: "web", VPCID: "vpc-0a1b2c3d4e5f60718",
		Ingress: []awsfake.Rule{{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "0.0.0.0/0"}},
		Egress:  []awsfake.Rule{{Protocol: "-1", CIDR: "0.0.0.0/0"}}})
	f.AddAutoScalingGroup(AWSProdAccount, AWSRegion, awsfake.AutoScalingGroup{Name: "web-asg", MinSize: 1, MaxSize: 4, DesiredCapacity: 2})
	f.AddInstance(AWSProdAccount, AWSRegion, awsfake.Instance{
		ID: w.Instance, VPCID: "vpc-0a1b2c3d4e5f60718", SubnetID: "subnet-0a1b2c3d4e5f60718", PrivateIP: "10.0.1.17", PublicIP: "203.0.113.17",
		NetworkInterfaces:  []awsfake.NetworkInterface{{ID: "eni-0a1b2c3d4e5f60718", PrivateIP: "10.0.1.17", SecurityGroups: []string{"sg-0a1b2c3d4e5f60718"}}},
		Volumes:            []awsfake.Volume{{ID: "vol-0a1b2c3d4e5f60718", DeviceName: "/dev/xvda", SizeGiB: 8}, {ID: "vol-0b1b2c3d4e5f60718", DeviceName: "/dev/xvdf", SizeGiB: 100}},
		InstanceProfileARN: w.InstanceProfile, AutoScalingGroup: "web-asg",
		Tags: map[string]string{"Name": "web-1", "aws:autoscaling:groupName": "web-asg"},
	})
	keys := f.AddIAMUser(AWSProdAccount, awsfake.IAMUser{Name: w.LeakedKeyUser, Keys: []awsfake.IAMAccessKey{{}}})
	w.LeakedKey = keys[0].AccessKeyID
	now := time.Now().UTC()
	for i := range 120 {
		at := now.Add(-time.Duration(i+1) * time.Minute)
		f.AddTrailEvents(AWSProdAccount, AWSRegion,
			awsfake.TrailEvent{EventName: "GetObject", EventSource: "s3.amazonaws.com", EventTime: at, Username: w.Instance,
				SourceIP: "198.51.100.23", UserAgent: "aws-cli/2.15", ReadOnly: true,
				Resources: []awsfake.TrailResource{{Type: "AWS::S3::Object", Name: fmt.Sprintf("customer-exports/%03d.csv", i%7)}}},
			awsfake.TrailEvent{EventName: "ListBuckets", EventSource: "s3.amazonaws.com", EventTime: at, Username: w.LeakedKeyUser,
				AccessKeyID: w.LeakedKey, SourceIP: "192.0.2.99", UserAgent: "python-requests/2.31", ReadOnly: true})
	}
	_, w.IPSet = f.AddIPSet(AWSProdAccount, AWSRegion, "REGIONAL", "blocked-attackers", "IPV4", "192.0.2.1/32")
	w.Fleet = []string{"i-0f1ee7000000000a1", "i-0f1ee7000000000a2", "i-0f1ee7000000000a3"}
	w.Canary = w.Fleet[0]
	for _, id := range w.Fleet {
		f.AddManagedInstance(AWSProdAccount, AWSRegion, id, map[string]string{"PatchGroup": "web"})
	}
	return w
}

// AWSConfig is firebreak.yaml's aws section for the seeded world.
func AWSConfig() string {
	return `aws:
  region: ` + AWSRegion + `
  accounts:
    prod:
      account_id: "` + AWSProdAccount + `"
      role_arn: ` + AWSProdRole + `
`
}

// AWSEnv is the environment that points firebreak at f with the worker's credentials (secret is
// the worker's secret key, a canary tests look for), isolated from the machine's own AWS files.
func AWSEnv(f *awsfake.Server, dir, secret string) ([]string, error) {
	id, _ := f.AddUserWithSecret(AWSSecAccount, "firebreak-worker", secret)
	empty := filepath.Join(dir, "aws-empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		return nil, err
	}
	return []string{
		"AWS_ENDPOINT_URL=" + f.URL, "AWS_ACCESS_KEY_ID=" + id, "AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_REGION=" + AWSRegion, "AWS_CONFIG_FILE=" + empty, "AWS_SHARED_CREDENTIALS_FILE=" + empty,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=", "AWS_SESSION_TOKEN=",
	}, nil
}
