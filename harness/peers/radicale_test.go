package peers_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/peers"
	"github.com/firedrill/firedrill/harness/stack"
)

var radicale = target{
	name:  "radicale",
	run:   peers.RunRadicale,
	hosts: []model.Kind{model.KindContact, model.KindEvent, model.KindTodo, model.KindNote},
	defect: func(k model.Kind, body []byte, _ *ledger.ItemHistory) string {
		if k == model.KindContact && bytes.Contains(body, []byte("VERSION:4.0")) && bytes.Contains(body, []byte("\nPHOTO:data:")) {
			return "Radicale drops the data of vCard 4 inline photos"
		}
		if k == model.KindContact && hasListValue(body, "NICKNAME", false) {
			return "Radicale keeps only the first value of a NICKNAME list"
		}
		return ""
	},
	planter: func(s *peers.Server) planter { return fileStore{s: s, find: radicaleFind, after: s.RadicaleDropCache} },
}

// radicaleFind is a shell snippet setting $f to a user's stored item file.
func radicaleFind(user, name string) string {
	return fmt.Sprintf(`f=$(find %s -type f -name %s -not -path '*/.Radicale.cache/*')`,
		shq(peers.RadicaleStorage+"/collection-root/"+user), shq(name))
}

// TestRadicaleDrill loads the tiny profile into fresh Radicale accounts (no
// address book, no calendar: the load must make them), verifies it, plants
// damage in its files and checks that the verifier names exactly that damage.
func TestRadicaleDrill(t *testing.T) { runDrill(t, radicale) }

// TestRadicaleDrillProvisioned is the drill against accounts that have an
// address book and a calendar already, as a team's staging server would.
func TestRadicaleDrillProvisioned(t *testing.T) {
	tg := radicale
	tg.run = func(ctx context.Context, run *stack.Run, users []accounts.Account, opts ...peers.Option) (*peers.Server, error) {
		return peers.RunRadicale(ctx, run, users, append(opts, peers.WithHomeCollections())...)
	}
	runDrill(t, tg)
}

// fileStore plants damage in a server that keeps one file per item.
type fileStore struct {
	s    *peers.Server
	find func(user, name string) string // shell snippet setting $f
	// after runs once files changed (Radicale's cache must go).
	after func(ctx context.Context) error
}

// one checks that $f names exactly one file.
const one = `[ -n "$f" ] && [ "$(printf '%s\n' "$f" | wc -l)" = 1 ] || { echo "want one stored file, found: ${f:-none}" >&2; exit 1; }; `

func (fs fileStore) shell(ctx context.Context, script string) error {
	if _, err := fs.s.Shell(ctx, script); err != nil {
		return err
	}
	if fs.after != nil {
		return fs.after(ctx)
	}
	return nil
}

func (fs fileStore) deleteItem(ctx context.Context, user, name string) error {
	return fs.shell(ctx, fs.find(user, name)+"; "+one+`rm -- "$f"`)
}

func (fs fileStore) changeContact(ctx context.Context, user, name string) error {
	return fs.shell(ctx, fs.find(user, name)+"; "+one+
		`grep -q '^FN:' "$f"; sed -i 's/^FN:[^\r]*/FN:Planted Damage/' "$f"; grep -q '^FN:Planted Damage' "$f"`)
}

func (fs fileStore) dropAddressBook(ctx context.Context, user, name string) error {
	return fs.shell(ctx, fs.find(user, name)+"; "+one+`rm -rf -- "$(dirname "$f")"`)
}

// shq quotes a string for the shell.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
