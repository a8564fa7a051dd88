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
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Limits for untrusted input.
const (
	maxJSONSize = 8 << 20
)

// Layout is an OCI image layout: a directory, or a tar of one.
type Layout struct {
	dir  string   // a layout directory
	tarf *os.File // or a layout tar
	// tar entries by name, for random access into the tar
	entries map[string]tarEntry
}

type tarEntry struct {
	offset, size int64
}

// Open opens a layout directory or tar file.
func Open(p string) (*Layout, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(p, ocispecs.ImageLayoutFile)); err != nil {
			return nil, fmt.Errorf("%s is a directory but not an OCI image layout (no %s)", p, ocispecs.ImageLayoutFile)
		}
		return &Layout{dir: p}, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	l := &Layout{tarf: f, entries: map[string]tarEntry{}}
	// Index the tar once: entry name → data offset.
	cr := &countingReader{r: bufio.NewReaderSize(f, 1<<16)}
	tr := tar.NewReader(cr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s is not an OCI layout tar: %w", p, err)
		}
		if h.Typeflag == tar.TypeReg {
			l.entries[path.Clean(strings.TrimPrefix(h.Name, "./"))] = tarEntry{offset: cr.n, size: h.Size}
		}
	}
	if _, ok := l.entries[ocispecs.ImageLayoutFile]; !ok {
		f.Close()
		return nil, fmt.Errorf("%s is a tar but not an OCI image layout (no %s)", p, ocispecs.ImageLayoutFile)
	}
	return l, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Close releases the layout.
func (l *Layout) Close() error {
	if l.tarf != nil {
		return l.tarf.Close()
	}
	return nil
}

// open returns a reader of a file of the layout.
func (l *Layout) open(name string) (io.ReadCloser, int64, error) {
	if l.dir != "" {
		f, err := os.Open(filepath.Join(l.dir, filepath.FromSlash(name)))
		if err != nil {
			return nil, 0, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		return f, st.Size(), nil
	}
	e, ok := l.entries[name]
	if !ok {
		return nil, 0, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return io.NopCloser(io.NewSectionReader(l.tarf, e.offset, e.size)), e.size, nil
}

// Blob opens a blob, checking its size against the descriptor; the digest
// is checked by the caller as it reads (Verified).
func (l *Layout) Blob(d ocispecs.Descriptor) (io.ReadCloser, error) {
	if err := d.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("descriptor digest: %w", err)
	}
	rc, size, err := l.open(path.Join("blobs", d.Digest.Algorithm().String(), d.Digest.Encoded()))
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
func (l *Layout) ReadJSON(d ocispecs.Descriptor, v any) error {
	if d.Size > maxJSONSize {
		return fmt.Errorf("blob %s is %d bytes, over the %d limit for JSON", d.Digest, d.Size, maxJSONSize)
	}
	rc, err := l.Blob(d)
	if err != nil {
		return err
	}
	defer rc.Close()
	dt, err := io.ReadAll(io.LimitReader(rc, maxJSONSize+1))
	if err != nil {
		return err
	}
	if digest.FromBytes(dt) != d.Digest {
		return fmt.Errorf("blob %s does not match its digest", d.Digest)
	}
	return json.Unmarshal(dt, v)
}

// Index reads the layout's index.json.
func (l *Layout) Index() (*ocispecs.Index, error) {
	rc, size, err := l.open("index.json")
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > maxJSONSize {
		return nil, fmt.Errorf("index.json is over %d bytes", maxJSONSize)
	}
	var idx ocispecs.Index
	if err := json.NewDecoder(io.LimitReader(rc, maxJSONSize)).Decode(&idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
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
func (l *Layout) ResolveImage(platform *ocispecs.Platform) (*Image, error) {
	idx, err := l.Index()
	if err != nil {
		return nil, err
	}
	var cands []ocispecs.Descriptor
	var walk func(ds []ocispecs.Descriptor, depth int) error
	walk = func(ds []ocispecs.Descriptor, depth int) error {
		if depth > 4 {
			return errors.New("indexes nested too deep")
		}
		for _, d := range ds {
			switch d.MediaType {
			case ocispecs.MediaTypeImageIndex, "application/vnd.docker.distribution.manifest.list.v2+json":
				var sub ocispecs.Index
				if err := l.ReadJSON(d, &sub); err != nil {
					return err
				}
				if err := walk(sub.Manifests, depth+1); err != nil {
					return err
				}
			case ocispecs.MediaTypeImageManifest, "application/vnd.docker.distribution.manifest.v2+json":
				if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
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
		if err := l.ReadJSON(d, &img.Manifest); err != nil {
			return nil, err
		}
		if err := l.ReadJSON(img.Manifest.Config, &img.Config); err != nil {
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
// whiteouts; every path stays inside dir.
func (l *Layout) Unpack(img *Image, dir string) error {
	for _, d := range img.Manifest.Layers {
		if err := l.unpackLayer(d, dir); err != nil {
			return fmt.Errorf("layer %s: %w", d.Digest, err)
		}
	}
	return nil
}

func (l *Layout) unpackLayer(d ocispecs.Descriptor, dir string) error {
	rc, err := l.Blob(d)
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
		zr, err := zstd.NewReader(br)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	}
	if err := extract(tar.NewReader(r), dir); err != nil {
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

func extract(tr *tar.Reader, dir string) error {
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
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
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777|0o600)
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
