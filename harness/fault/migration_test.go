package fault_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/stack"
)

// migrate runs a storage migration on env and returns its outcome.
func migrate(t *testing.T, env *fault.Env, params map[string]string) fault.MigrationOutcome {
	t.Helper()
	f, err := fault.New(fault.Spec{Name: "storage-migration", Params: params})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a, err := fault.Inject(ctx, env, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	o := f.(*fault.Migration).Outcome()
	t.Logf("%s", f.(fault.Detailer).Detail())
	return o
}

// other returns the failure domain to migrate to from the current one.
func other(env *fault.Env) string {
	if env.Stack.Postgres.Data.Domain == stack.DomainSANB {
		return stack.DomainSANA
	}
	return stack.DomainSANB
}

// TestStorageMigration moves one database back and forth between san-a and
// san-b: the correct procedure and a user's own copy command switch it with its
// data intact; each botched copy is caught by verification and rolled back;
// skipping verification switches onto damage that PostgreSQL then reports; and
// wiping the source before verifying leaves the database down.
func TestStorageMigration(t *testing.T) {
	env := ownPostgres(t, "migrate")
	mustExec(t, env,
		"CREATE TABLE contacts (id int PRIMARY KEY, card text)",
		"INSERT INTO contacts SELECT i, repeat(md5(i::text), 20) FROM generate_series(1, 20000) i")
	sum := func(t *testing.T) string {
		t.Helper()
		s, err := scalar[string](t, env, "SELECT md5(string_agg(card, ',' ORDER BY id)) FROM contacts")
		if err != nil {
			t.Fatalf("read the table: %v", err)
		}
		return s
	}
	want := sum(t)
	intact := func(t *testing.T) {
		t.Helper()
		if got := sum(t); got != want {
			t.Fatalf("table checksum %s, want %s", got, want)
		}
	}

	t.Run("correct", func(t *testing.T) {
		src := env.Stack.Postgres.Data
		o := migrate(t, env, nil)
		if !o.Verified || !o.Switched || len(o.Problems) > 0 {
			t.Fatalf("correct migration: %+v", o)
		}
		if got := env.Stack.Postgres.Data; got.Name == src.Name || got.Domain != stack.DomainSANB {
			t.Errorf("after the migration the database runs on %+v, want a new volume in san-b", got)
		}
		intact(t)
	})

	caught := []struct {
		botch string
		finds string
	}{
		{fault.BotchTornCopy, "differ from the source"},
		{fault.BotchSkipFiles, "missing from the copy"},
		{fault.BotchBitflip, "checksum verification failed"},
		{fault.BotchTruncateLargest, "differ from the source"},
	}
	for _, c := range caught {
		t.Run(c.botch+" is caught", func(t *testing.T) {
			before := env.Stack.Postgres.Data
			var stop atomic.Bool
			var wg sync.WaitGroup
			if c.botch == fault.BotchTornCopy {
				// Phones keep writing while the copy runs.
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; !stop.Load(); i++ {
						_ = query(env, false, 2*time.Second, "INSERT INTO contacts VALUES ($1, 'during the copy') ON CONFLICT DO NOTHING", 1000000+i)
					}
				}()
			}
			o := migrate(t, env, map[string]string{"botch": c.botch, "domain": other(env)})
			stop.Store(true)
			wg.Wait()
			mustExec(t, env, "DELETE FROM contacts WHERE id >= 1000000")
			if o.Verified || o.Switched || !o.RolledBack {
				t.Fatalf("botch %s was not caught: %+v", c.botch, o)
			}
			if !strings.Contains(strings.Join(o.Problems, "\n"), c.finds) {
				t.Errorf("verification found %q, want it to mention %q", o.Problems, c.finds)
			}
			if got := env.Stack.Postgres.Data; got.Name != before.Name {
				t.Errorf("after the rollback the database runs on %s, want %s", got.Name, before.Name)
			}
			intact(t)
		})
	}

	t.Run("rehearsal of a user's command", func(t *testing.T) {
		o := migrate(t, env, map[string]string{"command": `cp -a "$SOURCE/." "$TARGET/"`, "domain": other(env)})
		if !o.Verified || !o.Switched {
			t.Fatalf("a faithful cp -a did not pass: %+v", o)
		}
		intact(t)
		// An online procedure: a base backup streamed while the database runs,
		// which verification recovers (backup_label) before checking it.
		o = migrate(t, env, map[string]string{"online": "true", "domain": other(env), "command": `
			dir="$TARGET/$PGDATA_SUBDIR"
			pg_basebackup -h "$PGHOST" -U "$PGREPLUSER" -D "$dir" -X stream --checkpoint=fast --no-password
			chown -R postgres:postgres "$dir"`})
		if !o.Verified || !o.Switched {
			t.Fatalf("an online pg_basebackup did not pass: %+v", o)
		}
		intact(t)
		o = migrate(t, env, map[string]string{"command": `cp -r "$SOURCE/$PGDATA_SUBDIR" "$TARGET/"`, "domain": other(env)})
		if o.Verified || !o.RolledBack {
			t.Fatalf("cp -r (no owners, no modes kept) passed verification: %+v", o)
		}
		intact(t)
	})

	t.Run("switched without verification", func(t *testing.T) {
		o := migrate(t, env, map[string]string{"botch": fault.BotchBitflip, "verify": "false", "domain": other(env), "bytes": "64"})
		if !o.Switched || o.Verified {
			t.Fatalf("with verification off the database was not switched: %+v", o)
		}
		_, err := scalar[string](t, env, "SELECT md5(string_agg(card, ',' ORDER BY id)) FROM contacts")
		mustFail(t, "reading the table after an unverified bit-flipped copy", err, "invalid page", "checksum")
	})

	t.Run("wipe-source-early leaves the database down", func(t *testing.T) {
		o := migrate(t, env, map[string]string{"botch": fault.BotchWipeSourceEarly + "," + fault.BotchBitflip, "domain": other(env)})
		if !o.SourceWiped || !o.Down || o.Switched || o.RolledBack {
			t.Fatalf("wipe-source-early with a bit-flipped copy: %+v", o)
		}
		if !strings.Contains(strings.Join(o.Problems, "\n"), "checksum verification failed") {
			t.Errorf("verification found %q, want checksum failures", o.Problems)
		}
		err := query(env, false, 3*time.Second, "SELECT 1")
		mustFail(t, "query after the database was left down", err, unreachable...)
	})
	if n := len(env.Timeline.Entries()); n != 10 {
		t.Errorf("timeline holds %d spans, want 10 (one per migration)", n)
	}
}

// TestWipeSourceEarlyIsCaughtByTheManifest migrates a database of its own with
// the source wiped before verification and the copy's largest file cut at a
// page boundary.
func TestWipeSourceEarlyIsCaughtByTheManifest(t *testing.T) {
	env := ownPostgres(t, "wipe-early")
	// With the source gone, pg_checksums alone cannot see a relation file
	// cut at a page boundary (round one: the copy "verified", the database
	// switched and 10,008 of 20,000 rows were gone). The manifest taken
	// before the wipe catches it: the copy is refused, and with no source
	// left to roll back to, the database stays down instead of switching.
	o := migrate(t, env, map[string]string{"botch": fault.BotchWipeSourceEarly + "," + fault.BotchTruncateLargest, "domain": other(env)})
	if !o.SourceWiped || o.Switched || o.Verified || !o.Down {
		t.Fatalf("wipe-source-early with a truncated copy: %+v", o)
	}
	if !strings.Contains(strings.Join(o.Problems, "\n"), "differ from the source") {
		t.Errorf("verification found %q, want the truncated file named as differing from the source's manifest", o.Problems)
	}
	err := query(env, false, 3*time.Second, "SELECT 1")
	mustFail(t, "query after the database was left down", err, unreachable...)
}
