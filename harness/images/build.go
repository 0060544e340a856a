package images

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	firedrill "github.com/firedrill/firedrill"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// BuildOptions tunes Build.
type BuildOptions struct {
	// Log receives one line per step, for people watching the build.
	Log io.Writer
	// Force rebuilds images even when their content-addressed tag exists.
	Force bool
}

// Build builds the named images (all when none are named) that are not present yet,
// from the recipes embedded in the binary, and points each image's alias tag (e.g.
// firedrill/postgres:15) at the build. It needs mmdebstrap for the PostgreSQL rootfs
// and the Go toolchain for the static binaries.
func Build(ctx context.Context, cli client.APIClient, opts BuildOptions, names ...string) error {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if len(names) == 0 {
		names = All
	}
	for _, name := range names {
		ref, err := Ref(name)
		if err != nil {
			return err
		}
		if !opts.Force {
			if _, err := cli.ImageInspect(ctx, ref); err == nil {
				fmt.Fprintf(opts.Log, "images: %s is up to date\n", ref)
				continue
			}
		}
		start := time.Now()
		fmt.Fprintf(opts.Log, "images: building %s\n", ref)
		var buildErr error
		switch name {
		case Syncd:
			buildErr = buildGoScratch(ctx, cli, ref, "fixtures/images/syncd", "syncd", opts.Log, goBuildSyncd)
		case Toxiproxy:
			buildErr = buildGoScratch(ctx, cli, ref, "fixtures/images/toxiproxy", "toxiproxy-server", opts.Log, goInstallToxiproxy)
		case Postgres, Radicale, Xandikos, Davical:
			buildErr = buildDebian(ctx, cli, ref, debianImages[name], opts.Log)
		}
		if buildErr != nil {
			return fmt.Errorf("build image %s: %w", ref, buildErr)
		}
		alias := recipes[name].repo + ":" + recipes[name].alias
		if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: ref, Target: alias}); err != nil {
			return fmt.Errorf("tag image %s as %s: %w", ref, alias, err)
		}
		fmt.Fprintf(opts.Log, "images: built %s (also %s) in %s\n", ref, alias, time.Since(start).Round(100*time.Millisecond))
	}
	return nil
}

// goBuild produces the named static binary in dir.
type goBuild func(ctx context.Context, dir, binary string) error

// goBuildSyncd builds the reference server from the sources embedded in this binary,
// so the image matches its tag's hash whatever the working directory holds.
func goBuildSyncd(ctx context.Context, dir, binary string) error {
	src := filepath.Join(dir, "src")
	err := fs.WalkDir(firedrill.Sources, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if p != "go.mod" && p != "go.sum" && !strings.HasPrefix(p, "fixtures/syncd/") {
			return nil
		}
		return extract(p, filepath.Join(src, p), 0o644)
	})
	if err != nil {
		return fmt.Errorf("extract syncd source: %w", err)
	}
	return runGo(ctx, src, "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, binary), "./fixtures/syncd")
}

// goInstallToxiproxy builds Toxiproxy's server at the version the recipe pins.
func goInstallToxiproxy(ctx context.Context, dir, binary string) error {
	pkg, err := fs.ReadFile(firedrill.Sources, "fixtures/images/toxiproxy/version.txt")
	if err != nil {
		return fmt.Errorf("read toxiproxy version: %w", err)
	}
	gobin := filepath.Join(dir, "gobin")
	if err := runGoEnv(ctx, dir, []string{"GOBIN=" + gobin}, "install", "-trimpath", "-ldflags=-s -w", strings.TrimSpace(string(pkg))); err != nil {
		return err
	}
	return os.Rename(filepath.Join(gobin, "server"), filepath.Join(dir, binary))
}

func runGo(ctx context.Context, dir string, args ...string) error {
	return runGoEnv(ctx, dir, nil, args...)
}

func runGoEnv(ctx context.Context, dir string, env []string, args ...string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return errors.New("go toolchain not found on PATH: install Go 1.26 to build the static images")
	}
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=-mod=readonly"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("run go %s: %w\n%s", strings.Join(args, " "), err, tail(string(out), 20))
	}
	return nil
}

// buildGoScratch builds a static binary and a FROM scratch image holding it, with the
// daemon's classic builder (it needs no registry for FROM scratch).
func buildGoScratch(ctx context.Context, cli client.APIClient, ref, recipeDir, binary string, log io.Writer, compile goBuild) error {
	dir, err := os.MkdirTemp("", "firedrill-image-")
	if err != nil {
		return fmt.Errorf("create build dir: %w", err)
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(log, "images: compiling %s (static)\n", binary)
	if err := compile(ctx, dir, binary); err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dockerfile, err := fs.ReadFile(firedrill.Sources, recipeDir+"/Dockerfile")
	if err != nil {
		return fmt.Errorf("read Dockerfile: %w", err)
	}
	if err := addFileToTar(tw, "Dockerfile", dockerfile, 0o644); err != nil {
		return err
	}
	bin, err := os.ReadFile(filepath.Join(dir, binary))
	if err != nil {
		return fmt.Errorf("read %s: %w", binary, err)
	}
	if err := addFileToTar(tw, binary, bin, 0o755); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("close build context: %w", err)
	}
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Tags:        []string{ref},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
		Labels:      map[string]string{"io.firedrill.recipe": ref},
	})
	if err != nil {
		return fmt.Errorf("build image: %w", err)
	}
	defer res.Body.Close()
	return drainJSONStream(res.Body, io.Discard)
}

func addFileToTar(tw *tar.Writer, name string, b []byte, mode int64) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(b)), ModTime: time.Unix(0, 0)}); err != nil {
		return fmt.Errorf("write build context: %w", err)
	}
	if _, err := tw.Write(b); err != nil {
		return fmt.Errorf("write build context: %w", err)
	}
	return nil
}

// drainJSONStream reads the daemon's progress stream and returns the first error it reports.
func drainJSONStream(r io.Reader, log io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) != nil {
			continue
		}
		if msg.Error != "" {
			return errors.New(strings.TrimSpace(msg.Error))
		}
		io.WriteString(log, msg.Stream)
	}
	return sc.Err()
}

func readPackages(p string) ([]string, error) {
	b, err := fs.ReadFile(firedrill.Sources, p)
	if err != nil {
		return nil, fmt.Errorf("read package list: %w", err)
	}
	var pkgs []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			pkgs = append(pkgs, line)
		}
	}
	return pkgs, nil
}

func extract(p, dst string, mode os.FileMode) error {
	b, err := fs.ReadFile(firedrill.Sources, p)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dst), err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
