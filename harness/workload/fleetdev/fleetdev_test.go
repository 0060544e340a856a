package fleetdev

import (
	"context"
	"testing"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/workload"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

var _ fault.Device = (*workload.Phone)(nil)

func TestOf(t *testing.T) {
	p, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	accts := accounts.Generate(3, 1)
	f, err := workload.NewFleet(workload.Config{Server: "http://127.0.0.1:1", Accounts: accts, Profile: p, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	devs, err := Of(f).Devices("all")
	if err != nil {
		t.Fatal(err)
	}
	phones, _ := f.Phones("all")
	if len(devs) != len(phones) || len(devs) < len(accts) {
		t.Fatalf("%d devices, %d phones, %d users", len(devs), len(phones), len(accts))
	}
	for i, d := range devs {
		if d.ID() != phones[i].ID() {
			t.Errorf("device %d is %s, phone %s", i, d.ID(), phones[i].ID())
		}
		if err := d.Reset(context.Background()); err != nil {
			t.Errorf("reset %s: %v", d.ID(), err)
		}
	}
	one, err := Of(f).Devices(accts[1].Username + "/1")
	if err != nil || len(one) != 1 || one[0].ID() != accts[1].Username+"/1" {
		t.Errorf("one device: %v, %v", one, err)
	}
	if _, err := Of(f).Devices("nobody"); err == nil {
		t.Error("an unknown selector found devices")
	}
}
