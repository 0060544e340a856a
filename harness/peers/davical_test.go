package peers_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/peers"
	"github.com/jackc/pgx/v5"
)

var davical = target{
	name:  "davical",
	run:   peers.RunDavical,
	hosts: []model.Kind{model.KindContact, model.KindEvent, model.KindTodo, model.KindNote, model.KindAppData},
	defect: func(k model.Kind, body []byte, h *ledger.ItemHistory) string {
		switch {
		case k == model.KindAppData:
			return "DAViCal answers 201 to WebDAV file PUTs and rolls them back"
		case k == model.KindEvent && bytes.Contains(body, []byte("\nATTENDEE")) && puts(h) > 1:
			return "DAViCal resets ATTENDEE PARTSTAT when an organizer's update moves an event"
		}
		return ""
	},
	planter: func(s *peers.Server) planter { return davicalStore{s: s} },
}

// puts counts an item's acknowledged puts.
func puts(h *ledger.ItemHistory) int {
	n := 0
	if h == nil {
		return 0
	}
	for _, w := range h.Writes {
		if w.Op == ledger.OpPut && w.Outcome == ledger.OK {
			n++
		}
	}
	return n
}

// TestDavicalDrill loads the tiny profile into DAViCal, verifies it, plants
// damage in its database and checks that the verifier names exactly that
// damage.
func TestDavicalDrill(t *testing.T) { runDrill(t, davical) }

// davicalStore plants damage in DAViCal's tables.
type davicalStore struct{ s *peers.Server }

// exec runs one statement on DAViCal's database and checks it touched exactly
// one row of the user's items named name ($1: user, $2: name).
func (d davicalStore) exec(ctx context.Context, sql, user, name string) error {
	dsn, err := d.s.DSN(ctx)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect davical database: %w", err)
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, sql, user, name)
	if err != nil {
		return fmt.Errorf("plant damage: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("plant damage: %d rows affected, want 1 (%s of %s)", tag.RowsAffected(), name, user)
	}
	return nil
}

// davicalItem selects a user's stored item by the last segment of its path.
const davicalItem = `user_no = (SELECT user_no FROM usr WHERE username = $1) AND dav_name LIKE '/' || $1 || '/%/' || $2`

func (d davicalStore) deleteItem(ctx context.Context, user, name string) error {
	return d.exec(ctx, `DELETE FROM caldav_data WHERE `+davicalItem, user, name)
}

func (d davicalStore) changeContact(ctx context.Context, user, name string) error {
	return d.exec(ctx, `UPDATE caldav_data SET caldav_data = regexp_replace(caldav_data, '(^|\n)FN:[^\r\n]*', '\1FN:Planted Damage')
		WHERE caldav_data ~ '(^|\n)FN:' AND `+davicalItem, user, name)
}

func (d davicalStore) dropAddressBook(ctx context.Context, user, name string) error {
	return d.exec(ctx, `DELETE FROM collection WHERE is_addressbook AND collection_id = (SELECT collection_id FROM caldav_data WHERE `+davicalItem+`)`, user, name)
}
