// Package images names and builds the container images firedrill runs, with no
// registry: PostgreSQL and the third-party DAV servers (Radicale, Xandikos,
// DAViCal) from Debian rootfs made by mmdebstrap and imported, syncd and
// Toxiproxy as static Go binaries in FROM scratch images. Each image's tag is a
// hash of its recipe (and, for syncd, of its source), so an unchanged recipe is
// never rebuilt and a changed one can never be mistaken for the old image.
package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	firedrill "github.com/firedrill/firedrill"
	"github.com/moby/moby/client"
)

// The images firedrill runs, by recipe name.
const (
	Postgres  = "postgres"  // PostgreSQL 15 server and client tools; also the backup agent
	Syncd     = "syncd"     // the reference sync server
	Toxiproxy = "toxiproxy" // the network fault proxy
	// Third-party DAV servers, test targets for load and verify (harness/peers).
	Radicale = "radicale" // Radicale 3.1: CardDAV and CalDAV, file storage
	Xandikos = "xandikos" // Xandikos 0.2.8, one process per user behind nginx
	Davical  = "davical"  // DAViCal 1.1.12 on Apache, its database in firedrill/postgres
)

// All lists every recipe in build order.
var All = []string{Postgres, Syncd, Toxiproxy, Radicale, Xandikos, Davical}

// recipeVersion changes when the build procedure itself changes, so that every
// image is rebuilt even though no recipe file changed.
const recipeVersion = "1"

// recipe says where an image's inputs live in firedrill.Sources and how it is named.
type recipe struct {
	repo   string   // image repository, e.g. firedrill/postgres
	prefix string   // tag prefix before the hash, e.g. "15-"
	alias  string   // the human tag kept pointing at the newest build, e.g. "15"
	inputs []string // files and directories of firedrill.Sources hashed into the tag
}

var recipes = map[string]recipe{
	Postgres:  {repo: "firedrill/postgres", prefix: "15-", alias: "15", inputs: []string{"fixtures/images/postgres"}},
	Syncd:     {repo: "firedrill/syncd", alias: "latest", inputs: []string{"fixtures/images/syncd", "fixtures/syncd", "go.mod", "go.sum"}},
	Toxiproxy: {repo: "firedrill/toxiproxy", alias: "latest", inputs: []string{"fixtures/images/toxiproxy"}},
	Radicale:  {repo: "firedrill/radicale", prefix: "3.1-", alias: "3.1", inputs: []string{"fixtures/images/radicale"}},
	Xandikos:  {repo: "firedrill/xandikos", prefix: "0.2.8-", alias: "0.2.8", inputs: []string{"fixtures/images/xandikos"}},
	Davical:   {repo: "firedrill/davical", prefix: "1.1.12-", alias: "1.1.12", inputs: []string{"fixtures/images/davical"}},
}

var (
	refMu   sync.Mutex
	refMemo = map[string]string{}
)

// Ref returns the content-addressed reference of the named image, e.g.
// "firedrill/postgres:15-3f9a0c1b2d4e".
func Ref(name string) (string, error) {
	refMu.Lock()
	defer refMu.Unlock()
	if ref, ok := refMemo[name]; ok {
		return ref, nil
	}
	r, ok := recipes[name]
	if !ok {
		return "", fmt.Errorf("name image %q: no such recipe (want one of %s)", name, strings.Join(All, ", "))
	}
	sum, err := hashInputs(firedrill.Sources, r.inputs)
	if err != nil {
		return "", fmt.Errorf("hash recipe %s: %w", name, err)
	}
	ref := r.repo + ":" + r.prefix + sum[:12]
	refMemo[name] = ref
	return ref, nil
}

// MustRef is Ref for the recipe names defined in this package, which always hash.
func MustRef(name string) string {
	ref, err := Ref(name)
	if err != nil {
		panic(err)
	}
	return ref
}

// hashInputs hashes every file under the inputs, in path order. Go test files and
// testdata do not go into a binary, so they do not change the tag.
func hashInputs(fsys fs.FS, inputs []string) (string, error) {
	var files []string
	for _, in := range inputs {
		err := fs.WalkDir(fsys, in, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" {
					return fs.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(p, "_test.go") {
				return nil
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	sort.Strings(files)
	h := sha256.New()
	fmt.Fprintf(h, "firedrill-recipe %s\n", recipeVersion)
	for _, p := range files {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", path.Clean(p), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Missing returns the references of the named images that are not present locally.
func Missing(ctx context.Context, cli client.APIClient, names ...string) ([]string, error) {
	var missing []string
	for _, name := range names {
		ref, err := Ref(name)
		if err != nil {
			return nil, err
		}
		if _, err := cli.ImageInspect(ctx, ref); err != nil {
			missing = append(missing, ref)
		}
	}
	return missing, nil
}

// Require returns an error naming every image that is absent and how to build it.
func Require(ctx context.Context, cli client.APIClient, names ...string) error {
	missing, err := Missing(ctx, cli, names...)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("find images: %s not built (no registry here to pull from): run `make images` first", strings.Join(missing, ", "))
	}
	return nil
}

// Named returns the name of firedrill's image that ref means: its repository
// alone, with its human tag (e.g. firedrill/davical:1.1.12) or with the tag
// of its recipe's hash; false for any other image.
func Named(ref string) (string, bool) {
	repo, tag, _ := strings.Cut(ref, ":")
	for _, name := range All {
		r := recipes[name]
		if repo != r.repo {
			continue
		}
		if recipeRef, err := Ref(name); tag == "" || tag == r.alias || (err == nil && recipeRef == ref) {
			return name, true
		}
	}
	return "", false
}
