package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/model"
)

// sample is a small closed ledger with every kind of entry, and its layout.
type sample struct {
	data   []byte
	hend   int64   // where the frames start
	frames []int64 // where each frame starts; the last one is the trailer
	full   *Ledger
	writes map[string][]Write // the full ledger's, by "user key collection"
}

var (
	sampleOnce sync.Once
	sampleData sample
)

// theSample writes the sample ledger once per test binary.
func theSample(t testing.TB) sample {
	sampleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ledger-sample")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "sample.fdl")
		w, err := Create(path, time.Now(), Meta{Seed: testSeed, Profile: "tiny"})
		if err != nil {
			t.Fatal(err)
		}
		s := newScript(t, w, 4, 3)
		for range 10 { // many small frames: flush after every few steps
			s.run(8)
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sampleData = sample{data: data, full: mustLoad(t, path)}
		sampleData.hend, sampleData.frames = layout(t, data)
		sampleData.writes = map[string][]Write{}
		for uh := range sampleData.full.Histories() {
			for _, it := range uh.Items {
				sampleData.writes[uh.Name+" "+it.Key+" "+it.Collection] = it.Writes
			}
		}
	})
	if sampleData.data == nil {
		t.Fatal("no sample ledger")
	}
	return sampleData
}

// layout returns where a ledger's frames start.
func layout(t testing.TB, data []byte) (int64, []int64) {
	r := bytes.NewReader(data)
	_, hend, crc, err := readHeader("sample", r, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var starts []int64
	fr := newFrameReader("sample", r, hend, int64(len(data)), crc)
	for {
		off := fr.off
		if _, err := fr.next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, off)
	}
	return hend, starts
}

// frameAt returns the index of the frame holding offset off, or -1 in the
// header.
func (s sample) frameAt(off int64) int {
	i := -1
	for i+1 < len(s.frames) && s.frames[i+1] <= off {
		i++
	}
	return i
}

// frameEnd returns where frame i ends.
func (s sample) frameEnd(i int) int64 {
	if i+1 < len(s.frames) {
		return s.frames[i+1]
	}
	return int64(len(s.data))
}

// loadBytes loads data as Load loads a file of it, without the file
// system: the damage tests load thousands of variants.
func loadBytes(data []byte) (*Ledger, error) {
	return load("test.fdl", bytes.NewReader(data), int64(len(data)))
}

// checkPrefix checks that every user's writes in a cut ledger are the first
// ones of the full ledger, the same but for outcomes the cut lost.
func checkPrefix(t testing.TB, cut *Ledger, fullW map[string][]Write, what string) {
	t.Helper()
	pending := 0
	for uh := range cut.Histories() {
		for _, it := range uh.Items {
			want, ok := fullW[uh.Name+" "+it.Key+" "+it.Collection]
			if !ok || len(it.Writes) > len(want) {
				t.Fatalf("%s: %s %s in %s is not in the full ledger (or has more writes)", what, uh.Name, it.Key, it.Collection)
			}
			for i, g := range it.Writes {
				f := want[i]
				if g.Pending {
					pending++
					g.Outcome, g.Return, g.Pending = f.Outcome, f.Return, f.Pending
				}
				if g != f {
					t.Fatalf("%s: %s %s write %d = %+v, full ledger has %+v", what, uh.Name, it.Key, i, it.Writes[i], f)
				}
			}
		}
	}
	if pending != cut.Pending() {
		t.Fatalf("%s: %d pending writes in the histories, Pending() = %d", what, pending, cut.Pending())
	}
}

// TestEveryTruncation cuts the sample ledger at every offset: a cut in the
// header is an error, a cut at a frame boundary is cut short, a cut inside a
// frame is torn at that frame, and only the whole file is complete; what is
// left is always the full ledger's beginning (checked at every boundary and
// every 8th offset).
func TestEveryTruncation(t *testing.T) {
	s := theSample(t)
	boundaries := map[int64]bool{}
	for _, f := range s.frames {
		boundaries[f] = true
	}
	prevLen := 0
	for cut := int64(0); cut <= int64(len(s.data)); cut++ {
		l, err := loadBytes(s.data[:cut])
		what := fmt.Sprintf("cut at %d of %d", cut, len(s.data))
		switch {
		case cut < s.hend:
			if err == nil {
				t.Fatalf("%s (in the header): loaded", what)
			}
			continue
		case err != nil:
			t.Fatalf("%s: %v", what, err)
		case cut == int64(len(s.data)):
			if l.CutShort != nil || l.Torn != nil || l.Len() != s.full.Len() {
				t.Fatalf("%s: whole file: cut short %v, torn %v, %d writes", what, l.CutShort, l.Torn, l.Len())
			}
		case l.CutShort == nil:
			t.Fatalf("%s: not reported cut short", what)
		case boundaries[cut] || cut == s.hend:
			if l.Torn != nil || l.CutShort.Offset != cut {
				t.Fatalf("%s (a frame boundary): torn %v, cut short %v", what, l.Torn, l.CutShort)
			}
		default:
			start := s.frames[s.frameAt(cut)]
			if l.Torn == nil || l.Torn.Offset != start || l.CutShort.Offset != start {
				t.Fatalf("%s (inside the frame at %d): torn %v, cut short %v", what, start, l.Torn, l.CutShort)
			}
		}
		if l.Len() < prevLen {
			t.Fatalf("%s: %d writes, a shorter cut had %d", what, l.Len(), prevLen)
		}
		prevLen = l.Len()
		if l.CutShort != nil && (l.CutShort.Writes != l.Len() || l.CutShort.Pending != l.Pending()) {
			t.Fatalf("%s: %v, but %d writes, %d pending", what, l.CutShort, l.Len(), l.Pending())
		}
		if boundaries[cut] || cut%8 == 0 {
			checkPrefix(t, l, s.writes, what)
		}
	}
}

// TestEveryByteFlip flips each byte of the sample ledger: damage in the
// header is an error, damage in a frame with a frame after it is corruption
// at that frame, damage in the last frame (the trailer) is a torn tail. None
// goes unnoticed.
func TestEveryByteFlip(t *testing.T) {
	s := theSample(t)
	data := bytes.Clone(s.data)
	for pos := range data {
		data[pos] ^= 0x5a
		l, err := loadBytes(data)
		data[pos] ^= 0x5a
		checkFlip(t, s, int64(len(data)), int64(pos), l, err)
	}
}

// checkFlip checks what Load made of a ledger cut at size with a byte
// flipped at pos.
func checkFlip(t testing.TB, s sample, size, pos int64, l *Ledger, err error) {
	t.Helper()
	what := fmt.Sprintf("byte %d flipped (of %d)", pos, size)
	k := s.frameAt(pos)
	var corrupt *CorruptError
	switch {
	case pos >= size:
		t.Fatalf("%s: the flip is not in the file", what)
	case k < 0:
		if err == nil {
			t.Fatalf("%s (in the header): loaded", what)
		}
	case s.frameEnd(k+1) <= size && k+1 < len(s.frames): // a whole frame follows
		if !errors.As(err, &corrupt) || corrupt.Offset != s.frames[k] {
			t.Fatalf("%s (frame at %d, valid frames after it): %v, want corruption at %d", what, s.frames[k], err, s.frames[k])
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("offset %d", s.frames[k])) {
			t.Fatalf("%s: the error does not name the offset: %v", what, err)
		}
	case err == nil && l.Torn == nil:
		t.Fatalf("%s (frame at %d, nothing valid after it): loaded without a tear (cut short %v)", what, s.frames[k], l.CutShort)
	case err == nil && l.Torn.Offset != s.frames[k]:
		t.Fatalf("%s: torn at %d, want %d", what, l.Torn.Offset, s.frames[k])
	}
}

// frame builds a frame numbered num around payload.
func frame(num uint32, payload []byte) []byte {
	f := make([]byte, frameHeaderLen, frameHeaderLen+len(payload))
	binary.LittleEndian.PutUint32(f[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(f[4:], num)
	f = append(f, payload...)
	binary.LittleEndian.PutUint32(f[8:], frameCRC(f, f[frameHeaderLen:]))
	return f
}

// TestDamageRules names each kind of damage and what Load makes of it.
func TestDamageRules(t *testing.T) {
	s := theSample(t)
	d, fr := s.data, s.frames
	n := len(fr)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	header, trailerFrame := d[:s.hend], d[fr[n-1]:]
	flipped := bytes.Clone(d)
	flipped[fr[3]+frameHeaderLen+1] ^= 1
	closedEmpty, openEmpty := emptyLedger(t, true), emptyLedger(t, false)
	for _, c := range []struct {
		name    string
		data    []byte
		corrupt int64 // offset of the *CorruptError, -1 for none
		errText string
		torn    int64 // offset of the tear, -1 for none
		short   bool
	}{
		{"intact", d, -1, "", -1, false},
		{"cut at a frame boundary", d[:fr[5]], -1, "", -1, true},
		{"trailer missing", d[:fr[n-1]], -1, "", -1, true},
		{"last frame incomplete", d[:fr[5]+20], -1, "", fr[5], true},
		{"incomplete frame header", d[:fr[5]+5], -1, "", fr[5], true},
		{"zeros after a crash", cat(d[:fr[5]], make([]byte, 300)), -1, "", fr[5], true},
		{"checksum mismatch in the middle", flipped, fr[3], "frame checksum mismatch, and a valid frame follows", -1, false},
		{"frame dropped", cat(d[:fr[2]], d[fr[3]:]), fr[2], "frame number 3 where 2 was expected", -1, false},
		{"frame repeated", cat(d[:fr[3]], d[fr[2]:]), fr[3], "frame number 2 where 3 was expected", -1, false},
		{"data after the trailer", cat(d, []byte{1, 2, 3}), int64(len(d)), "3 bytes after the trailer", -1, false},
		{"trailer after a dropped last frame", cat(d[:fr[n-2]], frame(uint32(n-2), trailerFrame[frameHeaderLen:])), fr[n-2], "the trailer says", -1, false},
		{"entry of unknown tag", cat(d[:fr[n-1]], frame(uint32(n-1), []byte{0x7e})), fr[n-1], "unknown entry tag 0x7e", -1, false},
		{"entry cut short in a valid frame", cat(d[:fr[n-1]], frame(uint32(n-1), []byte{tagUser, 9, 'a'})), fr[n-1], "runs past the end of its frame", -1, false},
		{"completion of nothing", cat(d[:fr[n-1]], frame(uint32(n-1), []byte{tagComplete | 1, 100, 1})), fr[n-1], "only", -1, false},
		{"attempt on an undefined item", cat(d[:fr[n-1]], frame(uint32(n-1), []byte{tagInvoke | 1, 0xff, 0xff, 0x03, 0})), fr[n-1], "not defined before", -1, false},
		{"header damaged", cat([]byte("FDLEDGER\x02\x00\x01"), d[11:]), 0, "header checksum mismatch", -1, false},
		{"header cut short", header[:20], -1, "header is cut short", -1, false},
		{"not a ledger", []byte("hello, world"), -1, "not a firedrill ledger", -1, false},
		{"format version 1", cat([]byte("FDLEDGER\x01\x00"), d[10:]), -1, "format version 1, this build reads version 2", -1, false},
		{"closed, no writes", closedEmpty, -1, "", -1, false},
		{"never closed, no writes", openEmpty, -1, "", -1, true},
	} {
		l, err := loadBytes(c.data)
		var corrupt *CorruptError
		switch {
		case c.errText != "" && (err == nil || !strings.Contains(err.Error(), c.errText)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.errText)
		case c.corrupt >= 0 && (!errors.As(err, &corrupt) || corrupt.Offset != c.corrupt):
			t.Errorf("%s: %v, want a *CorruptError at offset %d", c.name, err, c.corrupt)
		case c.corrupt < 0 && errors.As(err, &corrupt):
			t.Errorf("%s: %v, want no corruption", c.name, err)
		case c.errText == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case err != nil:
		case (l.Torn != nil) != (c.torn >= 0) || l.Torn != nil && l.Torn.Offset != c.torn:
			t.Errorf("%s: torn %v, want at %d", c.name, l.Torn, c.torn)
		case (l.CutShort != nil) != c.short:
			t.Errorf("%s: cut short %v, want %v", c.name, l.CutShort, c.short)
		}
	}
}

// emptyLedger returns a ledger without writes, closed or not.
func emptyLedger(t *testing.T, closed bool) []byte {
	w, path := newWriter(t)
	if closed {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	} else {
		defer w.Close()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// FuzzLoad cuts a real ledger anywhere and flips any byte of it: Load never
// panics; a cut is cut short (or torn) unless it is the whole file; a flip is
// an error or a torn tail, and corruption when a whole frame follows it.
func FuzzLoad(f *testing.F) {
	f.Add(uint32(1<<31), uint32(0), byte(0))
	f.Add(uint32(1<<31), uint32(100), byte(1))
	f.Add(uint32(500), uint32(300), byte(0x80))
	f.Add(uint32(40), uint32(30), byte(0xff))
	f.Fuzz(func(t *testing.T, cut, pos uint32, mask byte) {
		s := theSample(t)
		size := int64(cut) % int64(len(s.data)+1)
		data := bytes.Clone(s.data[:size])
		flip := mask != 0 && int64(pos) < size
		if flip {
			data[pos] ^= mask
		}
		l, err := loadBytes(data)
		switch {
		case flip:
			checkFlip(t, s, size, int64(pos), l, err)
		case size < s.hend:
			if err == nil {
				t.Fatalf("cut at %d, in the header: loaded", size)
			}
		case err != nil:
			t.Fatalf("cut at %d: %v", size, err)
		case size == int64(len(s.data)):
			if l.CutShort != nil || l.Torn != nil {
				t.Fatalf("the whole file: cut short %v, torn %v", l.CutShort, l.Torn)
			}
		case l.CutShort == nil:
			t.Fatalf("cut at %d: not reported cut short", size)
		}
	})
}

// TestKillCopy writes a ledger from concurrent devices and an importer
// while copying the file at random moments, as kill -9 would leave it
// (whatever reached the file): every attempt whose Invoke had returned before
// a copy began is in that copy, and the copy is never corrupt.
func TestKillCopy(t *testing.T) {
	w, path := newWriter(t)
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	var left []string // "user key" of every attempt whose invoke returned
	failed := false
	fail := func(err error) {
		mu.Lock()
		failed = true
		cond.Broadcast()
		mu.Unlock()
		t.Error(err)
	}
	leave := func(ids ...string) {
		mu.Lock()
		left = append(left, ids...)
		cond.Broadcast()
		mu.Unlock()
	}
	const devices, per = 6, 400
	var wg sync.WaitGroup
	for g := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("phone%d", g)
			u := w.User(name)
			for i := range per {
				key := fmt.Sprintf("note/%d-%d.ics", g, i)
				tk, err := w.Invoke(Record{Call: w.Now(), User: u, Item: w.Item(u, key, "/dav/"+name+"/notes/"), Kind: model.KindNote, Op: OpPut, Digest: digestOf(key), Size: 5})
				if err != nil {
					fail(err)
					return
				}
				leave(name + " " + key)
				if i%3 != 0 { // a third never learn their outcome
					if err := w.Complete(tk, OK, w.Now()); err != nil {
						fail(err)
						return
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		u := w.User("importer")
		for b := range 30 {
			var items []ImportItem
			var ids []string
			for i := range 50 {
				name := fmt.Sprintf("IMG_%d_%d.jpg", b, i)
				items = append(items, ImportItem{User: u, Kind: model.KindPhoto, Name: name, Collection: "/dav/importer/photos/", Digest: digestOf(name), Size: 9})
				ids = append(ids, "importer photo/"+name)
			}
			tk, err := w.InvokeBatch(w.Now(), items)
			if err != nil {
				fail(err)
				return
			}
			leave(ids...)
			if err := w.Complete(tk, OK, w.Now()); err != nil {
				fail(err)
				return
			}
		}
	}()
	total := devices*per + 30*50
	rng := rand.New(rand.NewPCG(11, 12))
	copies, target := 0, 0
	for {
		target += 1 + rng.IntN(total/60)
		mu.Lock()
		for len(left) < min(target, total) && !failed {
			cond.Wait()
		}
		before := append([]string(nil), left...)
		stop := failed
		mu.Unlock()
		if stop {
			break
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		l, err := loadBytes(data)
		if err != nil {
			t.Fatalf("copy %d (%d bytes): %v", copies, len(data), err)
		}
		if l.CutShort == nil {
			t.Fatalf("copy %d of an open ledger is not cut short", copies)
		}
		in := map[string]bool{}
		for uh := range l.Histories() {
			for _, it := range uh.Items {
				in[uh.Name+" "+it.Key] = true
			}
		}
		for _, id := range before {
			if !in[id] {
				t.Fatalf("copy %d: %s had left (its Invoke returned) but is not in the copy of %d bytes", copies, id, len(data))
			}
		}
		copies++
		if len(before) >= total {
			break
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	l := mustLoad(t, path)
	if l.CutShort != nil || l.Len() != total || l.Pending() != devices*((per+2)/3) {
		t.Fatalf("closed ledger: cut short %v, %d writes (want %d), %d pending (want %d)", l.CutShort, l.Len(), total, l.Pending(), devices*((per+2)/3))
	}
	t.Logf("%d copies", copies)
}
