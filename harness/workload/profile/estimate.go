package profile

import (
	"fmt"
	"math"

	"github.com/firedrill/firedrill/harness/model"
)

// Needs is what a drill of a profile will ask of the machine, estimated from
// the profile alone, before any container starts: so that a size the machine
// cannot hold is refused with the figure instead of failing an hour in.
type Needs struct {
	Users  int
	Items  float64 // items created, all users
	Writes float64 // ledger records: active users' creates, updates and deletes, resting users' imported items
	// Payload is the bytes of the items' bodies the writes send.
	Payload float64
	// Database is the primary's data directory after the load: the empty
	// cluster, the bodies, and the per-item rows, indexes and change log.
	Database float64
	// Disk is what a whole drill keeps at its peak on the Docker host: the
	// primary and its WAL, two base backups and the WAL archive, a migrated
	// copy, and the restored stack.
	Disk float64
	// Memory is the harness's peak resident memory: the ledger, the
	// verifier's working set, the phones' working sets, and a fixed base.
	Memory float64
}

// The figures Estimate works with, measured on the reference stack (syncd
// over PostgreSQL 15). Profile small: 1,000 users, 48,604 items gave a 173 MiB
// base backup over a 31.5 MiB empty one. Profile medium (make drill at
// --profile medium, seed 2009): 1,189,677 items at rest with 887 MiB of
// bodies gave a 1.5 GiB base backup, the drill's disk use peaked 10.3 GiB
// above where it started, and the harness peaked at 505 MiB resident.
const (
	emptyCluster   = 32 << 20 // an initialised cluster with syncd's schema
	perItemStorage = 560      // a row, its index entries and its change-log row (medium: 617 MiB for 1.19M items)
	// wholeDrill is how many database-sized copies a drill holds at its peak:
	// the primary, its WAL, two base backups, the WAL archive, the migrated
	// copy, the restored copy (medium: 10.3 GiB at its peak for a 1.5 GiB
	// database: 6.9).
	wholeDrill = 7
	// harnessPerWrite is the harness's memory per ledger record: the
	// ledger's resting 26 to 32 bytes, and the observer's, verifier's and
	// garbage collector's share (medium: 505 MiB for 1.2M records).
	harnessPerWrite = 224
	harnessBase     = 256 << 20 // the Go runtime, clients, buffers, the report
	// The mean body of the kinds whose size the profile does not set, from
	// the generator over 2,000 users.
	meanContact      = 600
	meanContactPhoto = 10 << 10 // an inline PHOTO
	meanEvent        = 880
	meanTodo         = 550
	meanAppData      = 800
)

// Estimate returns what a drill of the profile with users users needs.
func (p *Profile) Estimate(users int) Needs {
	n := Needs{Users: users}
	perUser, bytesPerUser := 0.0, 0.0
	for name, r := range p.Items {
		k, err := model.ParseKind(name)
		if err != nil {
			continue
		}
		mean := r.Mean()
		perUser += mean
		bytesPerUser += mean * p.meanBody(k)
	}
	writesPerCreate := 1.0
	if p.Mix.Create > 0 {
		writesPerCreate += (p.Mix.Update + p.Mix.Delete) / p.Mix.Create
	}
	u, active := float64(users), float64(p.Active(users))
	n.Items = perUser * u
	// Active users write through the protocol (creates, updates, deletes);
	// resting users' items are imported once each.
	n.Writes = perUser*active*writesPerCreate + perUser*(u-active)
	n.Payload = bytesPerUser * u
	n.Database = emptyCluster + n.Payload + n.Items*perItemStorage
	n.Disk = wholeDrill * n.Database
	// Each user being loaded holds its plan and bodies; photos dominate.
	inFlight := float64(p.Concurrency) * float64(max(p.Devices.Max, 1)) * bytesPerUser
	n.Memory = harnessBase + n.Writes*harnessPerWrite + inFlight
	return n
}

// meanBody is the mean size of one body of kind k.
func (p *Profile) meanBody(k model.Kind) float64 {
	switch k {
	case model.KindContact:
		return meanContact + p.ContactPhotoRatio*meanContactPhoto
	case model.KindEvent:
		return meanEvent
	case model.KindTodo:
		return meanTodo
	case model.KindNote:
		return meanOf(p.NoteSizes)
	case model.KindPhoto:
		return meanOf(p.PhotoSizes)
	}
	return meanAppData
}

// meanOf is the mean of a bucketed size distribution, log-uniform within
// each bucket as the generator draws it.
func meanOf(bs []Bucket) float64 {
	total, weights := 0.0, 0.0
	for _, b := range bs {
		lo, hi := float64(max(b.Min, 1)), float64(b.Max)
		mean := lo
		if hi > lo {
			mean = (hi - lo) / math.Log(hi/lo)
		}
		total += b.Weight * mean
		weights += b.Weight
	}
	if weights == 0 {
		return 0
	}
	return total / weights
}

// Room is what a machine has free for a drill; zero means unknown.
type Room struct {
	Disk   float64 // free bytes where Docker keeps volumes
	Memory float64 // available bytes of memory
	// DiskAt names where Disk was measured, for the message.
	DiskAt string
}

// Fits returns an error naming each need the room cannot hold and the figure
// it needs, or nil. An unknown figure (zero) is not checked; the caller says so.
func (n Needs) Fits(r Room) error {
	var short []string
	if r.Disk > 0 && n.Disk > r.Disk {
		short = append(short, fmt.Sprintf("about %s of disk for the drill (database %s, kept about %d times over: WAL, backups, migrated and restored copies), but %s has %s free",
			Bytes(n.Disk), Bytes(n.Database), wholeDrill, r.DiskAt, Bytes(r.Disk)))
	}
	if r.Memory > 0 && n.Memory > r.Memory {
		short = append(short, fmt.Sprintf("about %s of memory for the harness (%.0f ledger records, the verifier's and the phones' working sets), but %s is available",
			Bytes(n.Memory), n.Writes, Bytes(r.Memory)))
	}
	if len(short) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d users of this profile need ", n.Users)
	for i, s := range short {
		if i > 0 {
			msg += "; and "
		}
		msg += s
	}
	return fmt.Errorf("%s: choose fewer users or a leaner profile, or free the space", msg)
}

// Bytes formats n bytes with a binary unit, e.g. "1.4 GiB".
func Bytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
