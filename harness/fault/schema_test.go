package fault_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"time"

	firedrill "github.com/firedrill/firedrill"
	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
	"github.com/jackc/pgx/v5"
)

// syncdMigrations is where syncd keeps its schema, which the botched upgrade's
// SQL must fit.
const syncdMigrations = "fixtures/syncd/internal/store/migrations"

// storedItem is an item as this test put it into syncd's tables.
type storedItem struct {
	kind model.Kind
	name string
	body []byte
}

// TestBotchedSchemaMigrationMangles: against syncd's own schema (its embedded
// migrations), with items a phone would write, the botched upgrade commits
// exactly its three damages: contacts lose PHOTO, notes' DESCRIPTION is cut, and
// DTSTART/DTEND of zoned events and to-dos lose their zone. Every other property
// and every photo is untouched, and each item's size and ETag match its new body.
func TestBotchedSchemaMigrationMangles(t *testing.T) {
	env := ownPostgres(t, "schema")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := connect(ctx, env, false)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	files, err := fs.Glob(firedrill.Sources, syncdMigrations+"/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("find syncd's migrations: %v", err)
	}
	sort.Strings(files)
	for _, f := range files {
		sql, _ := fs.ReadFile(firedrill.Sources, f)
		if _, err := conn.Exec(ctx, string(sql)); err != nil {
			t.Fatalf("apply %s: %v", f, err)
		}
	}

	prof, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	g := gen.New(testSeed, prof)
	var items []storedItem
	var seq int64
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var uid int64
		if err := tx.QueryRow(ctx, "INSERT INTO users (name, password_hash) VALUES ('alice', 'x') RETURNING id").Scan(&uid); err != nil {
			return err
		}
		colls := map[model.Kind]int64{}
		for _, c := range []struct {
			kind model.Kind
			path string
			ck   string
		}{{model.KindContact, "contacts", "addressbook"}, {model.KindEvent, "calendars/events", "calendar"}, {model.KindTodo, "calendars/todos", "calendar"}, {model.KindNote, "calendars/notes", "calendar"}, {model.KindPhoto, "photos", "files"}} {
			seq++
			var id int64
			if err := tx.QueryRow(ctx, "INSERT INTO collections (user_id, path, kind, created_seq, ctag_seq) VALUES ($1, $2, $3, $4, $4) RETURNING id", uid, c.path, c.ck, seq).Scan(&id); err != nil {
				return err
			}
			colls[c.kind] = id
		}
		components := map[model.Kind]string{model.KindEvent: "VEVENT", model.KindTodo: "VTODO", model.KindNote: "VJOURNAL"}
		for _, k := range []model.Kind{model.KindContact, model.KindEvent, model.KindTodo, model.KindNote, model.KindPhoto} {
			for i := range 12 {
				it := g.Item("alice", k, i, 0)
				seq++
				sum := sha256.Sum256(it.Body)
				ct := it.ContentType
				if k == model.KindContact {
					ct = "text/vcard; charset=utf-8"
				} else if components[k] != "" {
					ct = "text/calendar; charset=utf-8"
				}
				if _, err := tx.Exec(ctx, `INSERT INTO items (collection_id, name, content_type, component, body, size, etag, seq)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, colls[k], it.Name, ct, components[k], it.Body, len(it.Body), hex.EncodeToString(sum[:16]), seq); err != nil {
					return err
				}
				items = append(items, storedItem{kind: k, name: it.Name, body: it.Body})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("store the items: %v", err)
	}

	f := injectRecover(t, env, fault.Spec{Name: "botched-schema-migration", Target: fault.Postgres}, nil)
	affected := f.(*fault.SchemaMigration).Affected()
	t.Logf("affected: %v", affected)

	allowed := map[model.Kind][]string{
		model.KindContact: {"PHOTO"},
		model.KindNote:    {"DESCRIPTION"},
		// A custom zone referred to only by the shifted DTSTART and DTEND is
		// referred to by nothing after the shift: its VTIMEZONE stops counting.
		model.KindEvent: {"DTSTART", "DTEND", "VTIMEZONE"},
		model.KindTodo:  {"DTSTART", "DUE"},
	}
	changed := map[model.Kind]int{}
	for _, it := range items {
		var body []byte
		var size int64
		var etag string
		if err := conn.QueryRow(ctx, "SELECT body, size, etag FROM items WHERE name = $1", it.name).Scan(&body, &size, &etag); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		if size != int64(len(body)) || etag != hex.EncodeToString(sum[:16]) {
			t.Errorf("%s/%s: size %d and etag %s do not match its body (%d bytes)", it.kind, it.name, size, etag, len(body))
		}
		diff := canon.Diff(it.kind, it.body, body)
		if len(diff) > 0 {
			changed[it.kind]++
		}
		for _, line := range diff {
			ok := false
			for _, p := range allowed[it.kind] {
				ok = ok || strings.Contains(line, p)
			}
			if !ok {
				t.Errorf("%s/%s: the botch changed more than it should: %s", it.kind, it.name, line)
			}
		}
		if it.kind == model.KindContact && strings.Contains(string(body), "\nPHOTO") {
			t.Errorf("contact %s still has a photo", it.name)
		}
	}
	t.Logf("items changed by kind: %v", changed)
	for _, k := range []model.Kind{model.KindContact, model.KindEvent, model.KindNote} {
		if changed[k] == 0 {
			t.Errorf("no %s was changed", k)
		}
	}
	if changed[model.KindPhoto] != 0 {
		t.Errorf("%d photos were changed", changed[model.KindPhoto])
	}
	if affected["drop-contact-photos"] != int64(changed[model.KindContact]) || affected["truncate-notes"] != int64(changed[model.KindNote]) {
		t.Errorf("affected %v does not match the changes seen %v", affected, changed)
	}
	recorded(t, env, "botched-schema-migration", fault.Postgres)
}
