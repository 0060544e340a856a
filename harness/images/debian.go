package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	firedrill "github.com/firedrill/firedrill"
	"github.com/moby/moby/client"
)

// debianImage describes an image made from a Debian bookworm rootfs, the way
// PostgreSQL's and the third-party servers' images are made. Its recipe
// directory holds:
//
//	packages.txt   Debian packages to install, one per line (# comments)
//	entrypoint.sh  installed as /usr/local/bin/firedrill-entrypoint
//	rootfs/        optional: files copied into the rootfs at the same paths
//	customize.sh   optional: run inside the rootfs once the packages are in
//
// Everything in the directory is hashed into the image's tag (see recipes).
type debianImage struct {
	dir string
	// changes are the Dockerfile instructions docker import applies (besides
	// the entrypoint and the recipe label): ENV, EXPOSE, CMD.
	changes []string
	// hooks are further mmdebstrap hooks, run before the entrypoint is
	// uploaded (e.g. an --essential-hook that shapes how packages install).
	hooks []string
}

// debianImages are the images built by buildDebian, by recipe name.
var debianImages = map[string]debianImage{
	Postgres: {dir: "fixtures/images/postgres", changes: []string{
		`CMD ["postgres"]`,
		`ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
		`ENV PGDATA=/var/lib/postgresql/data/pg`,
		`ENV LANG=C.UTF-8`,
		`EXPOSE 5432`,
		// docker import takes no STOPSIGNAL; the stack sets SIGINT (fast shutdown) per container.
	}, hooks: []string{
		// The package creates a default cluster; the entrypoint makes its own on a volume.
		"--essential-hook=mkdir -p \"$1/etc/postgresql-common/createcluster.d\" && echo create_main_cluster=false > \"$1/etc/postgresql-common/createcluster.d/firedrill.conf\"",
	}},
	Radicale: {dir: "fixtures/images/radicale", changes: []string{
		`CMD ["radicale"]`,
		`ENV LANG=C.UTF-8`,
		`EXPOSE 5232`,
	}},
	Xandikos: {dir: "fixtures/images/xandikos", changes: []string{
		`CMD ["xandikos"]`,
		`ENV LANG=C.UTF-8`,
		`EXPOSE 8080`,
	}},
	Davical: {dir: "fixtures/images/davical", changes: []string{
		`CMD ["davical"]`,
		`ENV LANG=C.UTF-8`,
		`EXPOSE 80`,
	}},
}

// buildDebian makes the rootfs of a debianImage with mmdebstrap and imports it
// as ref.
func buildDebian(ctx context.Context, cli client.APIClient, ref string, img debianImage, log io.Writer) error {
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return errors.New("mmdebstrap not found: install it (`apt-get install mmdebstrap`; `make images` does this when run as root)")
	}
	dir, err := os.MkdirTemp("", "firedrill-debian-")
	if err != nil {
		return fmt.Errorf("create build dir: %w", err)
	}
	defer os.RemoveAll(dir)
	pkgs, err := readPackages(img.dir + "/packages.txt")
	if err != nil {
		return err
	}
	entrypoint := filepath.Join(dir, "firedrill-entrypoint")
	if err := extract(img.dir+"/entrypoint.sh", entrypoint, 0o755); err != nil {
		return err
	}
	hooks := append(append([]string{}, img.hooks...),
		"--customize-hook=upload "+entrypoint+" /usr/local/bin/firedrill-entrypoint",
		"--customize-hook=chmod 755 \"$1/usr/local/bin/firedrill-entrypoint\"")
	tree := filepath.Join(dir, "rootfs")
	if n, err := extractTree(img.dir+"/rootfs", tree); err != nil {
		return err
	} else if n > 0 {
		hooks = append(hooks, "--customize-hook=sync-in "+tree+" /")
	}
	if _, err := fs.Stat(firedrill.Sources, img.dir+"/customize.sh"); err == nil {
		script := filepath.Join(dir, "customize.sh")
		if err := extract(img.dir+"/customize.sh", script, 0o755); err != nil {
			return err
		}
		hooks = append(hooks,
			"--customize-hook=upload "+script+" /tmp/firedrill-customize.sh",
			"--customize-hook=chroot \"$1\" /bin/sh -e /tmp/firedrill-customize.sh",
			"--customize-hook=rm -f \"$1/tmp/firedrill-customize.sh\"")
	}
	rootfs := filepath.Join(dir, "rootfs.tar")
	args := []string{
		"--variant=minbase",
		"--include=" + strings.Join(pkgs, ","),
		// Documentation, manuals and translations are dead weight in a test image.
		"--dpkgopt=path-exclude=/usr/share/doc/*",
		"--dpkgopt=path-exclude=/usr/share/man/*",
		"--dpkgopt=path-exclude=/usr/share/locale/*",
		"--dpkgopt=path-exclude=/usr/share/info/*",
	}
	args = append(args, hooks...)
	args = append(args,
		"--customize-hook=rm -rf \"$1/var/cache/apt\"/*.bin \"$1/var/lib/apt/lists\"/*_Packages",
		"bookworm", rootfs)
	fmt.Fprintf(log, "images: mmdebstrap bookworm with %s (about a minute)\n", strings.Join(pkgs, ", "))
	cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run mmdebstrap: %w\n%s", err, tail(out.String(), 20))
	}
	f, err := os.Open(rootfs)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer f.Close()
	changes := append([]string{
		`ENTRYPOINT ["/usr/local/bin/firedrill-entrypoint"]`,
		`ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
		`LABEL io.firedrill.recipe=` + ref,
	}, img.changes...)
	fmt.Fprintf(log, "images: importing rootfs\n")
	res, err := cli.ImageImport(ctx, client.ImageImportSource{Source: f, SourceName: "-"}, ref, client.ImageImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("import rootfs: %w", err)
	}
	defer res.Close()
	return drainJSONStream(res, io.Discard)
}

// extractTree writes the files under root in firedrill.Sources to dst, keeping
// their relative paths (shell scripts and files under bin/ executable), and
// returns how many it wrote; a missing root writes none.
func extractTree(root, dst string) (int, error) {
	if _, err := fs.Stat(firedrill.Sources, root); err != nil {
		return 0, nil
	}
	n := 0
	err := fs.WalkDir(firedrill.Sources, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, root+"/")
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") || strings.Contains("/"+path.Dir(rel)+"/", "/bin/") {
			mode = 0o755
		}
		n++
		return extract(p, filepath.Join(dst, filepath.FromSlash(rel)), mode)
	})
	if err != nil {
		return n, fmt.Errorf("extract %s: %w", root, err)
	}
	return n, nil
}
