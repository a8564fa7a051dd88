// Package ocilayout reads images from an OCI image layout, as a directory
// or as the tar BuildKit writes with `-o type=oci`, and unpacks a
// platform's root filesystem, layer by layer, whiteouts applied, confined
// to the target directory.
package ocilayout

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/containerd/platforms"
	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/fipsgate/fipsgate/internal/imagefs"
	"github.com/klauspost/compress/zstd"
	bkattestation "github.com/moby/buildkit/util/attestation"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// Limits for untrusted input.
const (
	maxJSONSize = 8 << 20
	// maxLayoutFile bounds oci-layout, a one-line JSON file.
	maxLayoutFile = 64 << 10
	// maxTarEntries bounds the layout files a tar's index keeps: a layout
	// holds a few blobs per image and platform.
	maxTarEntries = 1 << 16
	// maxManifests bounds the descriptors ResolveImage walks.
	maxManifests = 4096
	// MaxUnpackedSize bounds the bytes Unpack writes, so that a layer that
	// decompresses (or expands sparse entries) to terabytes fails instead
	// of filling the disk. The largest images seen in practice unpack to
	// tens of gigabytes.
	MaxUnpackedSize = 32 << 30
	// maxUnpackedEntries bounds the entries Unpack applies.
	maxUnpackedEntries = 1 << 22
	// maxZstdWindow bounds the memory a zstd layer can make the decoder
	// take; zstd --long uses 128 MiB windows, its levels at most 8 MiB.
	maxZstdWindow = 1 << 27
)

// Layout is an OCI image layout: a directory, or a tar of one.
type Layout struct {
	name string
	dir  imagefs.Root // a layout directory
	tarf *os.File     // or a layout tar
	// tar entries by name, for random access into the tar
	entries map[string]tarEntry
}

type tarEntry struct {
	offset, size int64
	typ          byte
}

// Open opens the OCI layout at p, a directory or a tar file. Every file of
// the layout is opened without blocking and must be a regular file: a FIFO
// as the layout, its index.json or a blob fails at once, naming it. ctx
// bounds reading a tar's entry list; each read of the layout takes its own.
func Open(ctx context.Context, p string) (*Layout, error) {
	// O_PATH first: nothing is opened before its type is known, so that a
	// FIFO does not wait for a writer and a device's driver is not called.
	h, err := os.OpenFile(p, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	st, err := h.Stat()
	if err != nil {
		return nil, err
	}
	switch {
	case st.IsDir():
		l := &Layout{name: p, dir: imagefs.Root{Dir: p}}
		if _, err := l.dir.ReadFileLimit("/"+ocispecs.ImageLayoutFile, maxLayoutFile); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s is a directory but not an OCI image layout (no %s)", p, ocispecs.ImageLayoutFile)
			}
			return nil, fmt.Errorf("OCI layout %s: %w", p, err)
		}
		return l, nil
	case st.Mode().IsRegular():
	default:
		return nil, fmt.Errorf("%s is %s: give an OCI image layout directory, or the tar -o type=oci writes", p, imagefs.Kind(st.Mode()))
	}
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	l := &Layout{name: p, tarf: f, entries: map[string]tarEntry{}}
	if err := l.indexTar(ctx); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// indexTar reads the tar's headers once, seeking over the data, and keeps
// the offset of each file a layout has.
func (l *Layout) indexTar(ctx context.Context) error {
	r := &ctxReadSeeker{ctx: ctx, r: l.tarf}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("reading the entries of OCI layout tar %s: %w", l.name, err)
			}
			return fmt.Errorf("%s is not an OCI layout tar: %w", l.name, err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if !layoutFile(name) {
			continue
		}
		if _, ok := l.entries[name]; !ok && len(l.entries) >= maxTarEntries {
			return fmt.Errorf("OCI layout tar %s has over %d blobs, more than fipsgate reads", l.name, maxTarEntries)
		}
		off, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return fmt.Errorf("reading the entries of OCI layout tar %s: %w", l.name, err)
		}
		// PAX sparse entries keep their map in the data: not a layout's.
		for k := range h.PAXRecords {
			if strings.HasPrefix(k, "GNU.sparse.") {
				h.Typeflag = tar.TypeGNUSparse
			}
		}
		l.entries[name] = tarEntry{offset: off, size: h.Size, typ: h.Typeflag}
	}
	if e, ok := l.entries[ocispecs.ImageLayoutFile]; !ok || e.typ != tar.TypeReg {
		return fmt.Errorf("%s is a tar but not an OCI image layout (no %s)", l.name, ocispecs.ImageLayoutFile)
	}
	return nil
}

// layoutFile reports whether name is one an OCI layout reads.
func layoutFile(name string) bool {
	switch name {
	case "index.json", ocispecs.ImageLayoutFile:
		return true
	}
	rest, ok := strings.CutPrefix(name, "blobs/")
	if !ok {
		return false
	}
	alg, enc, ok := strings.Cut(rest, "/")
	return ok && digest.NewDigestFromEncoded(digest.Algorithm(alg), enc).Validate() == nil
}

// ctxReadSeeker fails reads and seeks once ctx is done. Reads of a regular
// file do not block on its type, so a check before each one bounds the
// whole by the context.
type ctxReadSeeker struct {
	ctx context.Context
	r   io.ReadSeeker
}

func (c *ctxReadSeeker) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (c *ctxReadSeeker) Seek(off int64, whence int) (int64, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Seek(off, whence)
}

type ctxReadCloser struct {
	ctx context.Context
	io.ReadCloser
}

func (c ctxReadCloser) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.ReadCloser.Read(p)
}

// Close releases the layout.
func (l *Layout) Close() error {
	if l.tarf != nil {
		return l.tarf.Close()
	}
	return nil
}

// open returns a reader of a file of the layout, which fails once ctx is
// done, and the file's size.
func (l *Layout) open(ctx context.Context, name string) (io.ReadCloser, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("reading %s of OCI layout %s: %w", name, l.name, err)
	}
	if l.tarf == nil {
		f, err := l.dir.Open("/" + name)
		if err != nil {
			return nil, 0, fmt.Errorf("OCI layout %s: %w", l.name, err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		return ctxReadCloser{ctx, f}, st.Size(), nil
	}
	e, ok := l.entries[name]
	if !ok {
		return nil, 0, fmt.Errorf("OCI layout tar %s has no %s: %w", l.name, name, fs.ErrNotExist)
	}
	if e.typ != tar.TypeReg {
		return nil, 0, fmt.Errorf("%s in OCI layout tar %s is %s, %w: fipsgate reads only regular files", name, l.name, tarKind(e.typ), imagefs.ErrNotRegular)
	}
	return ctxReadCloser{ctx, io.NopCloser(io.NewSectionReader(l.tarf, e.offset, e.size))}, e.size, nil
}

func tarKind(typ byte) string {
	switch typ {
	case tar.TypeFifo:
		return "a FIFO entry"
	case tar.TypeChar:
		return "a character device entry"
	case tar.TypeBlock:
		return "a block device entry"
	case tar.TypeDir:
		return "a directory entry"
	case tar.TypeSymlink:
		return "a symbolic link entry"
	case tar.TypeLink:
		return "a hard link entry"
	case tar.TypeGNUSparse:
		return "a sparse file entry"
	}
	return fmt.Sprintf("an entry of type %q", typ)
}

// Blob opens a blob, checking its size against the descriptor; the digest
// is checked by the caller as it reads (Verified). Reads fail once ctx is
// done.
func (l *Layout) Blob(ctx context.Context, d ocispecs.Descriptor) (io.ReadCloser, error) {
	if err := d.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("descriptor digest: %w", err)
	}
	rc, size, err := l.open(ctx, path.Join("blobs", d.Digest.Algorithm().String(), d.Digest.Encoded()))
	if err != nil {
		return nil, err
	}
	if size != d.Size {
		rc.Close()
		return nil, fmt.Errorf("blob %s has %d bytes, its descriptor says %d", d.Digest, size, d.Size)
	}
	return rc, nil
}

// ReadJSON reads a small blob, verifies its digest and decodes it.
func (l *Layout) ReadJSON(ctx context.Context, d ocispecs.Descriptor, v any) error {
	if d.Size > maxJSONSize {
		return fmt.Errorf("blob %s is %d bytes, over the %d limit for JSON", d.Digest, d.Size, maxJSONSize)
	}
	rc, err := l.Blob(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	dt, err := io.ReadAll(io.LimitReader(rc, maxJSONSize+1))
	if err != nil {
		return fmt.Errorf("reading blob %s of OCI layout %s: %w", d.Digest, l.name, err)
	}
	if digest.FromBytes(dt) != d.Digest {
		return fmt.Errorf("blob %s does not match its digest", d.Digest)
	}
	return json.Unmarshal(dt, v)
}

// Index reads the layout's index.json.
func (l *Layout) Index(ctx context.Context) (*ocispecs.Index, error) {
	rc, size, err := l.open(ctx, "index.json")
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > maxJSONSize {
		return nil, fmt.Errorf("index.json of OCI layout %s: %w", l.name, imagefs.TooLarge("index.json", size, maxJSONSize))
	}
	dt, err := io.ReadAll(io.LimitReader(rc, maxJSONSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading index.json of OCI layout %s: %w", l.name, err)
	}
	if len(dt) > maxJSONSize {
		return nil, fmt.Errorf("index.json of OCI layout %s grew past the %d-byte limit while read", l.name, maxJSONSize)
	}
	var idx ocispecs.Index
	if err := json.Unmarshal(dt, &idx); err != nil {
		return nil, fmt.Errorf("index.json of OCI layout %s: %w", l.name, err)
	}
	return &idx, nil
}

// Image is one platform's manifest and config.
type Image struct {
	Platform ocispecs.Platform
	Manifest ocispecs.Manifest
	Config   ocispecs.Image
}

// ResolveImage finds the image manifest for platform (nil: the only one, or
// the default platform's) under the layout's index, descending into nested
// indexes and skipping attestation manifests.
func (l *Layout) ResolveImage(ctx context.Context, platform *ocispecs.Platform) (*Image, error) {
	idx, err := l.Index(ctx)
	if err != nil {
		return nil, err
	}
	var cands []ocispecs.Descriptor
	walked := 0
	var walk func(ds []ocispecs.Descriptor, depth int) error
	walk = func(ds []ocispecs.Descriptor, depth int) error {
		if depth > 4 {
			return errors.New("indexes nested too deep")
		}
		for _, d := range ds {
			if walked++; walked > maxManifests {
				return fmt.Errorf("the layout's indexes name over %d manifests, more than fipsgate reads", maxManifests)
			}
			switch d.MediaType {
			case ocispecs.MediaTypeImageIndex, "application/vnd.docker.distribution.manifest.list.v2+json":
				var sub ocispecs.Index
				if err := l.ReadJSON(ctx, d, &sub); err != nil {
					return err
				}
				if err := walk(sub.Manifests, depth+1); err != nil {
					return err
				}
			case ocispecs.MediaTypeImageManifest, "application/vnd.docker.distribution.manifest.v2+json":
				if d.Annotations[bkattestation.DockerAnnotationReferenceType] == bkattestation.DockerAnnotationReferenceTypeDefault {
					continue
				}
				cands = append(cands, d)
			}
		}
		return nil
	}
	if err := walk(idx.Manifests, 0); err != nil {
		return nil, err
	}
	var images []*Image
	for _, d := range cands {
		img := &Image{}
		if err := l.ReadJSON(ctx, d, &img.Manifest); err != nil {
			return nil, err
		}
		if err := l.ReadJSON(ctx, img.Manifest.Config, &img.Config); err != nil {
			return nil, err
		}
		img.Platform = img.Config.Platform
		if d.Platform != nil {
			img.Platform = *d.Platform
		}
		images = append(images, img)
	}
	if len(images) == 0 {
		return nil, errors.New("the layout holds no image manifest")
	}
	want := platforms.DefaultSpec()
	if platform != nil {
		want = *platform
	} else if len(images) == 1 {
		return images[0], nil
	}
	m := platforms.Only(want)
	var names []string
	for _, img := range images {
		if m.Match(img.Platform) {
			return img, nil
		}
		names = append(names, platforms.Format(img.Platform))
	}
	return nil, fmt.Errorf("no image for %s in the layout (it has %s)", platforms.Format(want), strings.Join(names, ", "))
}

// Unpack extracts the image's layers into dir, in order, applying
// whiteouts; every path stays inside dir. It writes at most
// MaxUnpackedSize bytes and stops once ctx is done.
func (l *Layout) Unpack(ctx context.Context, img *Image, dir string) error {
	b := &budget{bytes: MaxUnpackedSize, entries: maxUnpackedEntries}
	for _, d := range img.Manifest.Layers {
		if err := l.unpackLayer(ctx, d, dir, b); err != nil {
			return fmt.Errorf("layer %s: %w", d.Digest, err)
		}
	}
	return nil
}

// budget is what the layers left to unpack may still write.
type budget struct {
	bytes, entries int64
}

func (l *Layout) unpackLayer(ctx context.Context, d ocispecs.Descriptor, dir string, b *budget) error {
	rc, err := l.Blob(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	verifier := d.Digest.Verifier()
	br := bufio.NewReader(io.TeeReader(rc, verifier))
	var r io.Reader = br
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer gz.Close()
		r = gz
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	}
	if err := extract(tar.NewReader(r), dir, b); err != nil {
		return err
	}
	// Drain what the tar reader left, so that the digest covers the blob.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return err
	}
	if !verifier.Verified() {
		return errors.New("content does not match its digest")
	}
	return nil
}

func extract(tr *tar.Reader, dir string, b *budget) error {
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if b.entries--; b.entries < 0 {
			return fmt.Errorf("the image has over %d entries, more than fipsgate unpacks", maxUnpackedEntries)
		}
		if h.Typeflag == tar.TypeReg {
			if b.bytes -= h.Size; b.bytes < 0 {
				return fmt.Errorf("%s: the image unpacks to over %d bytes, more than fipsgate unpacks: scan its root filesystem directory instead", h.Name, int64(MaxUnpackedSize))
			}
		}
		name := path.Clean("/" + h.Name)
		parent, base := path.Split(name)
		if base == ".wh..wh..opq" {
			p, err := securejoin.SecureJoin(dir, parent)
			if err != nil {
				return err
			}
			entries, _ := os.ReadDir(p)
			for _, e := range entries {
				os.RemoveAll(filepath.Join(p, e.Name()))
			}
			continue
		}
		if strings.HasPrefix(base, ".wh.") {
			p, err := securejoin.SecureJoin(dir, path.Join(parent, strings.TrimPrefix(base, ".wh.")))
			if err != nil {
				return err
			}
			os.RemoveAll(p)
			continue
		}
		// Resolve the parent inside dir; the entry itself is not followed.
		pdir, err := securejoin.SecureJoin(dir, parent)
		if err != nil {
			return err
		}
		target := filepath.Join(pdir, base)
		if name == "/" {
			continue
		}
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if st, err := os.Lstat(target); err == nil && !st.IsDir() {
				os.RemoveAll(target)
			}
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			os.RemoveAll(target)
			// O_EXCL|O_NOFOLLOW: whatever was there is gone, and nothing
			// but a new file is written to.
			f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, os.FileMode(h.Mode)&0o777|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			os.RemoveAll(target)
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			src, err := securejoin.SecureJoin(dir, path.Clean("/"+h.Linkname))
			if err != nil {
				return err
			}
			os.RemoveAll(target)
			if err := os.Link(src, target); err != nil {
				return err
			}
		default:
			// Devices, FIFOs: nothing to scan.
		}
	}
}
