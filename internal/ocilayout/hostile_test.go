package ocilayout

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fipsgate/fipsgate/internal/imagefs"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// bound is how long opening and resolving a hostile layout may take; the
// right code fails at once, a regression blocks on a FIFO or reads
// gigabytes. The context given to the code has the same deadline, and the
// test itself fails, rather than hangs, when the code ignores it.
const bound = 5 * time.Second

func bounded[T any](t *testing.T, what string, fn func(ctx context.Context) (T, error)) (T, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-time.After(bound + time.Second):
		t.Fatalf("%s did not return within %s, nor when its context ended", what, bound)
		panic("unreachable")
	}
}

// resolve opens the layout at p and resolves its image, as scan and verify
// do.
func resolve(ctx context.Context, p string) (*Image, error) {
	l, err := Open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return l.ResolveImage(ctx, nil)
}

func mkfifo(t *testing.T, p string) {
	t.Helper()
	os.Remove(p)
	if err := unix.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			unix.Close(fd)
		}
	})
}

func sparse(t *testing.T, p string, size int64) {
	t.Helper()
	os.Remove(p)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func replace(t *testing.T, p string, with func(p string)) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	with(p)
}

// manifestBlob is the path of the layout's manifest blob (the one index.json
// names).
func manifestBlob(t *testing.T, dir string) string {
	t.Helper()
	dt, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispecs.Index
	if err := json.Unmarshal(dt, &idx); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "blobs", "sha256", idx.Manifests[0].Digest.Encoded())
}

func TestHostileLayoutDirectories(t *testing.T) {
	good := layer(t, entry{name: "a", body: "a", typ: tar.TypeReg})
	for _, tc := range []struct {
		name   string
		mutate func(t *testing.T, dir string)
		want   string
		is     error
	}{
		{"index.json is a FIFO", func(t *testing.T, dir string) { mkfifo(t, filepath.Join(dir, "index.json")) },
			"/index.json is a FIFO (named pipe), not a regular file", imagefs.ErrNotRegular},
		{"index.json is a directory", func(t *testing.T, dir string) {
			replace(t, filepath.Join(dir, "index.json"), func(p string) { os.Mkdir(p, 0o755) })
		}, "/index.json is a directory, not a regular file", imagefs.ErrNotRegular},
		{"index.json is a socket", func(t *testing.T, dir string) {
			replace(t, filepath.Join(dir, "index.json"), func(p string) {
				l, err := net.Listen("unix", p)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() })
			})
		}, "/index.json is a socket", imagefs.ErrNotRegular},
		{"index.json is 8 GiB, sparse", func(t *testing.T, dir string) { sparse(t, filepath.Join(dir, "index.json"), 8<<30) },
			"index.json: file too large: 8589934592 bytes", imagefs.ErrTooLarge},
		{"index.json is a symlink loop", func(t *testing.T, dir string) {
			replace(t, filepath.Join(dir, "index.json"), func(p string) { os.Symlink("index.json", p) })
		}, "/index.json: too many levels of symbolic links", syscall.ELOOP},
		// An absolute symlink resolves inside the layout: there is no
		// dev/zero there, and the host's is not reached.
		{"index.json is a symlink to /dev/zero", func(t *testing.T, dir string) {
			replace(t, filepath.Join(dir, "index.json"), func(p string) { os.Symlink("/dev/zero", p) })
		}, "/index.json: no such file or directory", fs.ErrNotExist},
		{"index.json climbs out to /dev/zero", func(t *testing.T, dir string) {
			replace(t, filepath.Join(dir, "index.json"), func(p string) {
				os.Symlink(strings.Repeat("../", 40)+"dev/zero", p)
			})
		}, "/index.json: no such file or directory", fs.ErrNotExist},
		{"oci-layout is a FIFO", func(t *testing.T, dir string) { mkfifo(t, filepath.Join(dir, ocispecs.ImageLayoutFile)) },
			"/oci-layout is a FIFO (named pipe)", imagefs.ErrNotRegular},
		{"the manifest blob is a FIFO", func(t *testing.T, dir string) { mkfifo(t, manifestBlob(t, dir)) },
			"is a FIFO (named pipe), not a regular file", imagefs.ErrNotRegular},
		{"the manifest blob is a character device", func(t *testing.T, dir string) {
			p := manifestBlob(t, dir)
			os.Remove(p)
			if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
				t.Fatal(err)
			}
		}, "is a character device, not a regular file", imagefs.ErrNotRegular},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeLayout(t, good)
			tc.mutate(t, dir)
			_, err := bounded(t, "Open+ResolveImage", func(ctx context.Context) (*Image, error) { return resolve(ctx, dir) })
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.is) {
				t.Errorf("got %v\nwant an error with %q, wrapping %v", err, tc.want, tc.is)
			}
			if err != nil && !strings.Contains(err.Error(), dir) {
				t.Errorf("the error does not name the layout %s: %v", dir, err)
			}
		})
	}
}

func TestLayoutPathThatIsNeitherDirectoryNorTar(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "layout.tar")
	mkfifo(t, fifo)
	for p, want := range map[string]string{
		fifo:        fifo + " is a FIFO (named pipe): give an OCI image layout directory, or the tar -o type=oci writes",
		"/dev/zero": "/dev/zero is a character device",
	} {
		_, err := bounded(t, "Open", func(ctx context.Context) (*Layout, error) { return Open(ctx, p) })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want %q", p, err, want)
		}
	}
}

// tarLayout writes the layout directory dir as a tar, as -o type=oci does,
// keeping FIFOs and symlinks as such.
func tarLayout(t *testing.T, dir string) string {
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
		link, _ := os.Readlink(p)
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name, _ = filepath.Rel(dir, p)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			defer src.Close()
			_, err = io.Copy(tw, src)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHostileLayoutTars(t *testing.T) {
	good := layer(t, entry{name: "a", body: "a", typ: tar.TypeReg})
	for _, tc := range []struct {
		name   string
		mutate func(t *testing.T, dir string)
		want   string
		is     error
	}{
		{"index.json is a FIFO", func(t *testing.T, dir string) { mkfifo(t, filepath.Join(dir, "index.json")) },
			"index.json in OCI layout tar", imagefs.ErrNotRegular},
		{"the manifest blob is a symlink", func(t *testing.T, dir string) {
			replace(t, manifestBlob(t, dir), func(p string) { os.Symlink("/dev/zero", p) })
		}, "is a symbolic link entry", imagefs.ErrNotRegular},
		{"oci-layout is a FIFO", func(t *testing.T, dir string) { mkfifo(t, filepath.Join(dir, ocispecs.ImageLayoutFile)) },
			"is a tar but not an OCI image layout (no oci-layout)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeLayout(t, good)
			tc.mutate(t, dir)
			p := tarLayout(t, dir)
			_, err := bounded(t, "Open+ResolveImage", func(ctx context.Context) (*Image, error) { return resolve(ctx, p) })
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("got %v\nwant an error with %q, wrapping %v", err, tc.want, tc.is)
			}
		})
	}
}

// A tar whose one entry claims 64 GiB, sparse on disk: indexing must seek
// over it, not read it (that takes far longer than the bound), and the
// layout still resolves.
func TestTarIndexSeeksOverHugeEntries(t *testing.T) {
	dir := writeLayout(t, layer(t, entry{name: "a", body: "a", typ: tar.TypeReg}))
	p := tarLayout(t, dir)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Drop the two zero blocks that end the archive, append the huge entry
	// and end the archive again after its (sparse) data.
	st, _ := f.Stat()
	if _, err := f.Seek(st.Size()-1024, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + digest.FromString("huge").Encoded(), Typeflag: tar.TypeReg, Size: 64 << 30, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	end, _ := f.Seek(0, io.SeekCurrent)
	if err := f.Truncate(end + 64<<30 + 1024); err != nil {
		t.Fatal(err)
	}
	f.Close()
	img, err := bounded(t, "Open+ResolveImage", func(ctx context.Context) (*Image, error) { return resolve(ctx, p) })
	if err != nil || len(img.Manifest.Layers) != 1 {
		t.Errorf("ResolveImage = %+v, %v", img, err)
	}
}

func TestReadsStopWhenTheContextEnds(t *testing.T) {
	dir := writeLayout(t, layer(t, entry{name: "a", body: "a", typ: tar.TypeReg}))
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(done, tarLayout(t, dir)); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "reading the entries of OCI layout tar") {
		t.Errorf("Open of a tar with a done context = %v", err)
	}
	for _, p := range []string{dir, tarLayout(t, dir)} {
		l, err := Open(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Index(done); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "index.json of OCI layout "+p) {
			t.Errorf("Index with a done context = %v", err)
		}
		img, err := l.ResolveImage(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Unpack(done, img, t.TempDir()); !errors.Is(err, context.Canceled) {
			t.Errorf("Unpack with a done context = %v", err)
		}
		l.Close()
	}
}

// A layer whose tar claims more than MaxUnpackedSize is refused at its
// header, before anything is written or its (sparse) data read.
func TestUnpackRefusesImagesOverTheLimit(t *testing.T) {
	dir := writeLayout(t, layer(t, entry{name: "a", body: "a", typ: tar.TypeReg}))
	l, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	img, err := l.ResolveImage(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A layer blob of a header claiming MaxUnpackedSize+1 bytes, sparse.
	huge := filepath.Join(t.TempDir(), "huge.tar")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Size: MaxUnpackedSize + 1, Mode: 0o644})
	size := int64(512 + (MaxUnpackedSize+1+511)&^511 + 1024)
	f.Truncate(size)
	f.Close()
	d := ocispecs.Descriptor{MediaType: ocispecs.MediaTypeImageLayer, Digest: digest.FromString("not checked before the header"), Size: size}
	if err := os.Rename(huge, filepath.Join(dir, "blobs", "sha256", d.Digest.Encoded())); err != nil {
		t.Fatal(err)
	}
	img.Manifest.Layers = []ocispecs.Descriptor{d}
	root := t.TempDir()
	_, err = bounded(t, "Unpack", func(ctx context.Context) (struct{}, error) { return struct{}{}, l.Unpack(ctx, img, root) })
	if err == nil || !strings.Contains(err.Error(), "big: the image unpacks to over 34359738368 bytes") {
		t.Errorf("Unpack = %v", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("Unpack wrote %v", entries)
	}
}
