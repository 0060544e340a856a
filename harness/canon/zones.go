package canon

import (
	"archive/zip"
	"bytes"
	_ "embed" // the IANA time zone database below
	"fmt"
	"io"
	"sync"
	"time"
)

// zoneinfoZip is the IANA time zone database, release 2025c: a copy of Go
// 1.26's $GOROOT/lib/time/zoneinfo.zip (the data time/tzdata embeds), kept
// here so that which zones are "IANA" and their offsets never depend on the
// host's /usr/share/zoneinfo or on the ZONEINFO variable. Refresh it with
//
//	cp "$(go env GOROOT)/lib/time/zoneinfo.zip" harness/canon/zoneinfo.zip
//
// and say the release in this comment and the package doc.
//
//go:embed zoneinfo.zip
var zoneinfoZip []byte

// zoneDB resolves TZIDs against the embedded database. The zip's index is
// read once; each zone is decoded on first use and cached.
type zoneDB struct {
	once  sync.Once
	err   error
	files map[string]*zip.File

	mu    sync.RWMutex
	zones map[string]*time.Location // nil value: not an IANA zone
}

var zones zoneDB

func (db *zoneDB) load() {
	r, err := zip.NewReader(bytes.NewReader(zoneinfoZip), int64(len(zoneinfoZip)))
	if err != nil {
		db.err = fmt.Errorf("read embedded zoneinfo.zip: %w", err)
		return
	}
	db.files = make(map[string]*zip.File, len(r.File))
	for _, f := range r.File {
		db.files[f.Name] = f
	}
	db.zones = make(map[string]*time.Location)
}

// lookup returns the IANA zone named tzid, or nil when the database has no
// zone of that exact name (names are case-sensitive, as in the database).
func (db *zoneDB) lookup(tzid []byte) *time.Location {
	db.once.Do(db.load)
	if db.err != nil {
		panic(db.err) // the embedded file is part of the source: a broken one is a build defect
	}
	db.mu.RLock()
	loc, ok := db.zones[string(tzid)]
	db.mu.RUnlock()
	if ok {
		return loc
	}
	name := string(tzid)
	if f := db.files[name]; f != nil && name != "" {
		loc = readZone(f)
	}
	db.mu.Lock()
	if len(db.zones) < 4096 { // bound the cache against bodies full of made-up TZIDs
		db.zones[name] = loc
	}
	db.mu.Unlock()
	return loc
}

// readZone decodes one zone file of the embedded database; nil when it does
// not decode (then the TZID is treated as not IANA).
func readZone(f *zip.File) *time.Location {
	rc, err := f.Open()
	if err != nil {
		return nil
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil
	}
	loc, err := time.LoadLocationFromTZData(f.Name, data)
	if err != nil {
		return nil
	}
	return loc
}

// isIANA reports whether tzid names a zone of the embedded IANA database.
func isIANA(tzid []byte) bool { return zones.lookup(tzid) != nil }
