package peers_test

import (
	"context"
	"fmt"
	"path"
	"testing"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/peers"
)

var xandikos = target{
	name:  "xandikos",
	run:   peers.RunXandikos,
	hosts: model.Kinds, // photos and app data in plain WebDAV collections made with MKCOL
	defect: func(k model.Kind, body []byte, _ *ledger.ItemHistory) string {
		if k != model.KindContact && hasListValue(body, "CATEGORIES", true) {
			return "Xandikos drops the escaping of a comma inside a CATEGORIES value, splitting one category in two"
		}
		return ""
	},
	planter: func(s *peers.Server) planter { return xandikosStore{s: s} },
}

// TestXandikosDrill loads the tiny profile into Xandikos, verifies it, plants
// damage in its git repositories and checks that the verifier names exactly
// that damage.
func TestXandikosDrill(t *testing.T) { runDrill(t, xandikos) }

// xandikosStore plants damage in Xandikos's repositories and commits it: it
// serves what is committed, not the working tree.
type xandikosStore struct{ s *peers.Server }

// locate finds the repository and file name of a user's item.
func (x xandikosStore) locate(ctx context.Context, user, name string) (repo string, err error) {
	out, err := x.s.Shell(ctx, fmt.Sprintf(`f=$(find %s -type f -name %s -not -path '*/.git/*'); `,
		shq(path.Join(peers.XandikosStorage, user, user)), shq(name))+one+`dirname "$f"`)
	if err != nil {
		return "", err
	}
	return trimNL(out), nil
}

func (x xandikosStore) deleteItem(ctx context.Context, user, name string) error {
	repo, err := x.locate(ctx, user, name)
	if err != nil {
		return err
	}
	return x.s.XandikosCommit(ctx, repo, "git rm -q -- "+shq(name), "firedrill: plant a lost item")
}

func (x xandikosStore) changeContact(ctx context.Context, user, name string) error {
	repo, err := x.locate(ctx, user, name)
	if err != nil {
		return err
	}
	return x.s.XandikosCommit(ctx, repo, fmt.Sprintf(`grep -q '^FN:' %[1]s; sed -i 's/^FN:[^\r]*/FN:Planted Damage/' %[1]s`, shq(name)),
		"firedrill: plant a changed contact")
}

func (x xandikosStore) dropAddressBook(ctx context.Context, user, name string) error {
	repo, err := x.locate(ctx, user, name)
	if err != nil {
		return err
	}
	_, err = x.s.Shell(ctx, "rm -rf -- "+shq(repo))
	return err
}

func trimNL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
