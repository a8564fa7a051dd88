package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// bound is how long scan or verify may take on a hostile input: the right
// code refuses it at once; a regression waits on a FIFO forever, which the
// deadline turns into a failure instead of a hung test binary.
const bound = 10 * time.Second

// run runs a command in-process and returns its exit status and output,
// failing the test if it has not returned within bound.
func run(t *testing.T, cmd func(args []string, stdout, stderr io.Writer) int, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	type result struct {
		code int
		out  string
	}
	done := make(chan result, 1)
	go func() {
		var out bytes.Buffer
		code := cmd(args, &out, &out)
		done <- result{code, out.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.out
	case <-ctx.Done():
		t.Fatalf("%q did not return within %s", args, bound)
		panic("unreachable")
	}
}

func mkfifo(t *testing.T, p string) {
	t.Helper()
	os.RemoveAll(p)
	if err := unix.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	// Release whatever a regression left blocked on it.
	t.Cleanup(func() {
		if fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			unix.Close(fd)
		}
	})
}

func write(t *testing.T, p string, dt []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, dt, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeLayout writes an OCI layout directory of one linux/amd64 image with
// an empty layer and no attestation, and returns it and its manifest's
// blob path.
func writeLayout(t *testing.T) (dir, manifest string) {
	t.Helper()
	dir = t.TempDir()
	blob := func(dt []byte, mt string) ocispecs.Descriptor {
		d := digest.FromBytes(dt)
		write(t, filepath.Join(dir, "blobs", "sha256", d.Encoded()), dt)
		return ocispecs.Descriptor{MediaType: mt, Digest: d, Size: int64(len(dt))}
	}
	var empty bytes.Buffer
	tar.NewWriter(&empty).Close()
	cfg, _ := json.Marshal(ocispecs.Image{Platform: ocispecs.Platform{OS: "linux", Architecture: "amd64"}})
	m, _ := json.Marshal(ocispecs.Manifest{MediaType: ocispecs.MediaTypeImageManifest,
		Config: blob(cfg, ocispecs.MediaTypeImageConfig),
		Layers: []ocispecs.Descriptor{blob(empty.Bytes(), ocispecs.MediaTypeImageLayer)}})
	md := blob(m, ocispecs.MediaTypeImageManifest)
	idx, _ := json.Marshal(ocispecs.Index{MediaType: ocispecs.MediaTypeImageIndex, Manifests: []ocispecs.Descriptor{md}})
	write(t, filepath.Join(dir, "index.json"), idx)
	write(t, filepath.Join(dir, ocispecs.ImageLayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`))
	return dir, filepath.Join(dir, "blobs", "sha256", md.Digest.Encoded())
}

// tarOf writes dir as a tar, keeping FIFOs as FIFO entries.
func tarOf(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "layout.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name, _ = filepath.Rel(dir, p)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			dt, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(dt)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	return p
}

// Each case fails at once (exit 2) with a message naming the file and what
// it is, instead of waiting on it.
func TestVerifyRefusesHostileLayouts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input func(t *testing.T) string
		want  string
	}{
		{"the layout is a FIFO", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "image.tar")
			mkfifo(t, p)
			return p
		}, "image.tar is a FIFO (named pipe): give an OCI image layout directory, or the tar -o type=oci writes"},
		{"index.json is a FIFO", func(t *testing.T) string {
			dir, _ := writeLayout(t)
			mkfifo(t, filepath.Join(dir, "index.json"))
			return dir
		}, "/index.json is a FIFO (named pipe), not a regular file"},
		{"the image manifest is a FIFO", func(t *testing.T) string {
			dir, m := writeLayout(t)
			mkfifo(t, m)
			return dir
		}, "is a FIFO (named pipe), not a regular file"},
		{"the image manifest is /dev/zero by symlink", func(t *testing.T) string {
			dir, m := writeLayout(t)
			os.Remove(m)
			os.Symlink("/dev/zero", m)
			return dir
		}, "no such file or directory"},
		{"index.json is a socket", func(t *testing.T) string {
			dir, _ := writeLayout(t)
			p := filepath.Join(dir, "index.json")
			os.Remove(p)
			l, err := net.Listen("unix", p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return dir
		}, "/index.json is a socket"},
		{"index.json is 8 GiB, sparse", func(t *testing.T) string {
			dir, _ := writeLayout(t)
			if err := os.Truncate(filepath.Join(dir, "index.json"), 8<<30); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "index.json: file too large: 8589934592 bytes"},
		{"index.json is a symlink loop", func(t *testing.T) string {
			dir, _ := writeLayout(t)
			p := filepath.Join(dir, "index.json")
			os.Remove(p)
			os.Symlink("index.json", p)
			return dir
		}, "/index.json: too many levels of symbolic links"},
		{"a tar whose index.json is a FIFO", func(t *testing.T) string {
			dir, _ := writeLayout(t)
			mkfifo(t, filepath.Join(dir, "index.json"))
			return tarOf(t, dir)
		}, "index.json in OCI layout tar"},
		{"a tar whose image manifest is a FIFO", func(t *testing.T) string {
			dir, m := writeLayout(t)
			mkfifo(t, m)
			return tarOf(t, dir)
		}, "is a FIFO entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.input(t)
			code, out := run(t, runVerify, "--timeout", "1m", p)
			if code != 2 || !strings.Contains(out, tc.want) || !strings.Contains(out, p) {
				t.Errorf("verify %s: exit %d\n%s\nwant exit 2 and %q, naming %s", p, code, out, tc.want, p)
			}
		})
	}
}

// An expired --timeout: whichever read it stops, the message says that
// verify timed out and what it was reading.
func TestVerifyTimeoutSaysWhatItWasReading(t *testing.T) {
	dir, _ := writeLayout(t)
	for _, p := range []string{dir, tarOf(t, dir)} {
		code, out := run(t, runVerify, "--timeout", "1ns", p)
		if code != 2 || !strings.Contains(out, "fipsgate verify timed out while reading ") || !strings.Contains(out, "OCI layout "+p) ||
			!strings.Contains(out, "(--timeout 1ns)") {
			t.Errorf("verify --timeout 1ns %s: exit %d\n%s", p, code, out)
		}
	}
}

func TestScanRefusesHostileInputs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args func(t *testing.T) []string
		want string
	}{
		{"PATH is a FIFO", func(t *testing.T) []string {
			p := filepath.Join(t.TempDir(), "image.tar")
			mkfifo(t, p)
			return []string{p}
		}, "image.tar is a FIFO (named pipe)"},
		{"a layout whose index.json is a FIFO", func(t *testing.T) []string {
			dir, _ := writeLayout(t)
			mkfifo(t, filepath.Join(dir, "index.json"))
			return []string{dir}
		}, "/index.json is a FIFO (named pipe), not a regular file"},
		{"a layout tar whose manifest is a FIFO", func(t *testing.T) []string {
			dir, m := writeLayout(t)
			mkfifo(t, m)
			return []string{tarOf(t, dir)}
		}, "is a FIFO entry"},
		{"--exceptions is a FIFO", func(t *testing.T) []string {
			p := filepath.Join(t.TempDir(), "exceptions")
			mkfifo(t, p)
			return []string{"--exceptions", p, t.TempDir()}
		}, "/exceptions is a FIFO (named pipe)"},
		{"--exceptions is /dev/zero", func(t *testing.T) []string {
			return []string{"--exceptions", "/dev/zero", t.TempDir()}
		}, "--exceptions: /dev/zero is a character device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args(t)
			code, out := run(t, runScan, args...)
			if code != 2 || !strings.Contains(out, tc.want) {
				t.Errorf("scan %q: exit %d\n%s\nwant exit 2 and %q", args, code, out, tc.want)
			}
		})
	}
}

// A root filesystem whose library path and configuration are FIFOs,
// devices, sockets, loops and huge sparse files is scanned to the end:
// what scan reads through imagefs is refused, not waited on.
func TestScanOfAHostileRootFinishes(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"etc/ld.so.conf.d", "usr/lib/x86_64-linux-gnu", "lib64"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mkfifo(t, filepath.Join(root, "etc/ld.so.conf"))
	os.Symlink("/dev/zero", filepath.Join(root, "etc/ld.so.conf.d/zero.conf"))
	write(t, filepath.Join(root, "usr/lib/x86_64-linux-gnu/.keep"), nil)
	mkfifo(t, filepath.Join(root, "usr/lib/x86_64-linux-gnu/libcrypto.so.3"))
	os.Symlink("/dev/zero", filepath.Join(root, "usr/lib/libcrypto.so.3"))
	os.Symlink("/lib64/loop", filepath.Join(root, "lib64/loop"))
	os.Symlink("loop", filepath.Join(root, "lib64/libcrypto.so.3"))
	if err := unix.Mknod(filepath.Join(root, "usr/lib/zero"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(root, "usr/lib/sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Truncate(filepath.Join(root, "usr/lib/x86_64-linux-gnu/.keep"), 8<<30); err != nil {
		t.Fatal(err)
	}
	code, out := run(t, runScan, root)
	if code == 2 || !strings.Contains(out, "verified libcrypto: none") {
		t.Errorf("scan of a hostile root: exit %d\n%s", code, out)
	}
}
