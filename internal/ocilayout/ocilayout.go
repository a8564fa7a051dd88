// Package ocilayout reads images from an OCI image layout, as a directory
// or as the tar BuildKit writes with `-o type=oci`, and unpacks a
// platform's root filesystem, layer by layer, whiteouts applied, confined
// to the target directory.
//
// Platform selection and unpacking are containerd's (core/images,
// pkg/archive); what is fipsgate's own is reading an untrusted layout:
// every file opened without blocking and only if regular, a tar indexed
// once without reading its data, every blob checked against its size and
// digest before containerd sees it, and limits on what is read and
// written.
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
	"strings"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/archive"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/fipsgate/fipsgate/internal/imagefs"
	"github.com/klauspost/compress/zstd"
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
	Manifest ocispecs.Manifest
	Config   ocispecs.Image
}

// ResolveImage finds the image manifest for platform (nil: the only one, or
// the default platform's) under the layout's index, with containerd's
// platform selection: nested indexes are followed, attestation manifests
// (platform unknown/unknown) never match.
func (l *Layout) ResolveImage(ctx context.Context, platform *ocispecs.Platform) (*Image, error) {
	idx, err := l.Index(ctx)
	if err != nil {
		return nil, err
	}
	dt, err := json.Marshal(idx)
	if err != nil {
		return nil, err
	}
	root := ocispecs.Descriptor{MediaType: ocispecs.MediaTypeImageIndex, Digest: digest.FromBytes(dt), Size: int64(len(dt)), Data: dt}
	p := &metadata{l: l, left: maxManifests}
	var have []ocispecs.Platform
	if platform == nil {
		if have, err = images.Platforms(ctx, p, root); err != nil {
			return nil, err
		}
	}
	want := platforms.DefaultSpec()
	switch {
	case platform != nil:
		want = *platform
	case len(have) == 1:
		want = have[0]
	}
	m, err := images.Manifest(ctx, p, root, platforms.Only(want))
	if errdefs.IsNotFound(err) {
		if have == nil {
			have, _ = images.Platforms(ctx, p, root)
		}
		if len(have) == 0 {
			return nil, errors.New("the layout holds no image manifest")
		}
		names := make([]string, len(have))
		for i, h := range have {
			names[i] = platforms.Format(h)
		}
		return nil, fmt.Errorf("no image for %s in the layout (it has %s)", platforms.Format(want), strings.Join(names, ", "))
	}
	if err != nil {
		return nil, err
	}
	img := &Image{Manifest: m}
	cfg, err := content.ReadBlob(ctx, p, m.Config)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(cfg, &img.Config); err != nil {
		return nil, fmt.Errorf("image config %s: %w", m.Config.Digest, err)
	}
	return img, nil
}

// metadata is the content.Provider containerd's image functions read
// manifests, indexes and configs through. containerd trusts its content
// store; a layout is untrusted, so each blob is read whole, at most
// maxJSONSize bytes, and verified against its digest before a byte of it
// is used, and one resolution reads at most maxManifests blobs (an index
// may name the same manifest many times over).
type metadata struct {
	l    *Layout
	left int
}

func (p *metadata) ReaderAt(ctx context.Context, d ocispecs.Descriptor) (content.ReaderAt, error) {
	if p.left--; p.left < 0 {
		return nil, fmt.Errorf("the layout's indexes name over %d manifests, more than fipsgate reads", maxManifests)
	}
	if d.Size > maxJSONSize {
		return nil, fmt.Errorf("blob %s is %d bytes, over the %d limit for JSON", d.Digest, d.Size, maxJSONSize)
	}
	rc, err := p.l.Blob(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	dt, err := io.ReadAll(io.LimitReader(rc, maxJSONSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s of OCI layout %s: %w", d.Digest, p.l.name, err)
	}
	if digest.FromBytes(dt) != d.Digest {
		return nil, fmt.Errorf("blob %s does not match its digest", d.Digest)
	}
	return bytesReaderAt{bytes.NewReader(dt)}, nil
}

type bytesReaderAt struct{ *bytes.Reader }

func (bytesReaderAt) Close() error { return nil }

// Unpack extracts the image's layers into dir, in order, with containerd's
// archive.Apply: whiteouts applied, every path resolved inside dir. What
// the scan does not need and a host should not get from an untrusted image
// is filtered out (devices, FIFOs, owners, set-id bits, extended
// attributes). It writes at most MaxUnpackedSize bytes and stops once ctx
// is done.
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

// admit is the archive.Filter of Unpack.
func (b *budget) admit(h *tar.Header) (bool, error) {
	if b.entries--; b.entries < 0 {
		return false, fmt.Errorf("the image has over %d entries, more than fipsgate unpacks", maxUnpackedEntries)
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		if b.bytes -= h.Size; b.bytes < 0 {
			return false, fmt.Errorf("%s: the image unpacks to over %d bytes, more than fipsgate unpacks: scan its root filesystem directory instead", h.Name, int64(MaxUnpackedSize))
		}
		h.Mode = h.Mode&0o777 | 0o600
	case tar.TypeDir:
		h.Mode = h.Mode&0o777 | 0o700
	case tar.TypeSymlink, tar.TypeLink:
	default:
		// Devices, FIFOs: nothing to scan.
		return false, nil
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			delete(h.PAXRecords, k)
		}
	}
	return true, nil
}

func (l *Layout) unpackLayer(ctx context.Context, d ocispecs.Descriptor, dir string, b *budget) error {
	rc, err := l.Blob(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	verifier := d.Digest.Verifier()
	br := bufio.NewReader(io.TeeReader(rc, verifier))
	magic, _ := br.Peek(10)
	// containerd's DecompressStream would do this, but may hand gzip to an
	// external unpigz reading the blob concurrently; the digest needs the
	// rest of the blob read after the tar ends, in this goroutine.
	var r io.Reader = br
	switch c := compression.DetectCompression(magic); c {
	case compression.Uncompressed:
	case compression.Gzip:
		gz, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer gz.Close()
		r = gz
	case compression.Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	default:
		return fmt.Errorf("layer compression %s is not one fipsgate reads", c.Extension())
	}
	if _, err := archive.Apply(ctx, dir, r, archive.WithFilter(b.admit), archive.WithNoSameOwner()); err != nil {
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
