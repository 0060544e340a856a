// Package fleetdev offers a workload Fleet's phones to the device faults of
// package fault (device-reset): fault.Devices wants a []fault.Device, which
// package workload cannot return without depending on the fault stage and its
// container code.
package fleetdev

import (
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/workload"
)

// Of returns the fleet's phones as fault devices: set it as fault.Env.Devices.
func Of(f *workload.Fleet) fault.Devices { return fleetDevices{f} }

type fleetDevices struct{ f *workload.Fleet }

// Devices implements fault.Devices: "all", a user's name or a phone's ID.
func (d fleetDevices) Devices(selector string) ([]fault.Device, error) {
	phones, err := d.f.Phones(selector)
	if err != nil {
		return nil, err
	}
	out := make([]fault.Device, len(phones))
	for i, p := range phones {
		out[i] = p
	}
	return out, nil
}
