package ocilayout

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

type entry struct {
	name, body, link string
	typ              byte
}

func layer(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Linkname: e.link, Size: int64(len(e.body))}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

// writeLayout writes an OCI layout directory holding one image of the
// given layers.
func writeLayout(t *testing.T, layers ...[]byte) string {
	t.Helper()
	dir := t.TempDir()
	blob := func(dt []byte, mt string) ocispecs.Descriptor {
		d := digest.FromBytes(dt)
		p := filepath.Join(dir, "blobs", "sha256", d.Encoded())
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, dt, 0o644); err != nil {
			t.Fatal(err)
		}
		return ocispecs.Descriptor{MediaType: mt, Digest: d, Size: int64(len(dt))}
	}
	cfg, _ := json.Marshal(ocispecs.Image{Platform: ocispecs.Platform{OS: "linux", Architecture: "amd64"}, Config: ocispecs.ImageConfig{Env: []string{"A=b"}}})
	m := ocispecs.Manifest{MediaType: ocispecs.MediaTypeImageManifest, Config: blob(cfg, ocispecs.MediaTypeImageConfig)}
	for _, l := range layers {
		m.Layers = append(m.Layers, blob(l, ocispecs.MediaTypeImageLayer))
	}
	mdt, _ := json.Marshal(m)
	md := blob(mdt, ocispecs.MediaTypeImageManifest)
	idx, _ := json.Marshal(ocispecs.Index{MediaType: ocispecs.MediaTypeImageIndex, Manifests: []ocispecs.Descriptor{md}})
	os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644)
	os.WriteFile(filepath.Join(dir, ocispecs.ImageLayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	return dir
}

func TestUnpackAppliesWhiteoutsAndStaysInside(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	lower := layer(t,
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/keep", body: "keep", typ: tar.TypeReg},
		entry{name: "etc/gone", body: "gone", typ: tar.TypeReg},
		entry{name: "opaque/", typ: tar.TypeDir},
		entry{name: "opaque/old", body: "old", typ: tar.TypeReg},
		// Hostile: climbing out, and a symlink pointing out then written through.
		entry{name: "../../escape", body: "x", typ: tar.TypeReg},
		entry{name: "link", link: outside, typ: tar.TypeSymlink},
		entry{name: "abs", link: "/", typ: tar.TypeSymlink},
	)
	upper := layer(t,
		entry{name: "etc/.wh.gone", typ: tar.TypeReg},
		entry{name: "opaque/.wh..wh..opq", typ: tar.TypeReg},
		entry{name: "opaque/new", body: "new", typ: tar.TypeReg},
		entry{name: "link/through", body: "x", typ: tar.TypeReg},
		entry{name: "abs/etc/via-abs", body: "x", typ: tar.TypeReg},
		entry{name: "hard", link: "../../etc/keep", typ: tar.TypeLink},
	)
	l, err := Open(ctx, writeLayout(t, lower, upper))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	img, err := l.ResolveImage(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if img.Config.Config.Env[0] != "A=b" {
		t.Errorf("config: %+v", img.Config)
	}
	root := t.TempDir()
	if err := l.Unpack(ctx, img, root); err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool { _, err := os.Lstat(filepath.Join(root, p)); return err == nil }
	for p, want := range map[string]bool{
		"etc/keep": true, "etc/gone": false, "opaque/old": false, "opaque/new": true,
		"escape": true, "etc/via-abs": true, "hard": true,
	} {
		if exists(p) != want {
			t.Errorf("%s exists: %v, want %v", p, !want, want)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a layer wrote outside the root through a symlink: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(root)), "escape")); err == nil {
		t.Errorf("a layer wrote above the root")
	}
}

func TestUnpackRefusesATamperedLayer(t *testing.T) {
	ctx := context.Background()
	dir := writeLayout(t, layer(t, entry{name: "a", body: "aaaa", typ: tar.TypeReg}))
	blobs, _ := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
	for _, p := range blobs {
		dt, _ := os.ReadFile(p)
		if bytes.Contains(dt, []byte("aaaa")) {
			os.WriteFile(p, bytes.Replace(dt, []byte("aaaa"), []byte("bbbb"), 1), 0o644)
		}
	}
	l, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	img, err := l.ResolveImage(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unpack(ctx, img, t.TempDir()); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Errorf("a tampered layer must fail on its digest, got %v", err)
	}
}

func TestOpenRefusesWhatIsNotALayout(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("empty dir: %v", err)
	}
	f := filepath.Join(t.TempDir(), "x.tar")
	os.WriteFile(f, layer(t, entry{name: "a", body: "a", typ: tar.TypeReg}), 0o644)
	if _, err := Open(ctx, f); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("plain tar: %v", err)
	}
}

// What the scan does not need and the host should not get from an
// untrusted image is left out: devices, FIFOs, set-id bits, owners and
// extended attributes.
func TestUnpackKeepsDevicesAndPrivilegesOut(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "dev/sda", Typeflag: tar.TypeBlock, Mode: 0o666, Devmajor: 8},
		{Name: "dev/mem", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 1},
		{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o666},
		{Name: "suid", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 4242, Gid: 4242},
		{Name: "cap", Typeflag: tar.TypeReg, Mode: 0o755, PAXRecords: map[string]string{
			"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00",
			"SCHILY.xattr.user.note":           "x",
		}},
		{Name: "locked/", Typeflag: tar.TypeDir, Mode: 0o000},
		{Name: "locked/inside", Typeflag: tar.TypeReg, Mode: 0o000},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	l, err := Open(ctx, writeLayout(t, buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	img, err := l.ResolveImage(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := l.Unpack(ctx, img, root); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"dev/sda", "dev/mem", "fifo"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s was created", p)
		}
	}
	for p, want := range map[string]os.FileMode{"suid": 0o755, "cap": 0o755, "locked": 0o700 | os.ModeDir, "locked/inside": 0o600} {
		st, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode(), want)
		}
		if sys := st.Sys().(*syscall.Stat_t); sys.Uid == 4242 {
			t.Errorf("%s: owner taken from the layer", p)
		}
	}
	for _, attr := range []string{"security.capability", "user.note"} {
		if _, err := unix.Lgetxattr(filepath.Join(root, "cap"), attr, make([]byte, 64)); err == nil {
			t.Errorf("xattr %s was set", attr)
		}
	}
}

// writeIndex replaces the layout's index.json with one naming ds.
func writeIndex(t *testing.T, dir string, ds ...ocispecs.Descriptor) {
	t.Helper()
	idx, _ := json.Marshal(ocispecs.Index{MediaType: ocispecs.MediaTypeImageIndex, Manifests: ds})
	if err := os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rootManifest is the one manifest a writeLayout index names.
func rootManifest(t *testing.T, dir string) ocispecs.Descriptor {
	t.Helper()
	var idx ocispecs.Index
	dt, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(dt, &idx); err != nil {
		t.Fatal(err)
	}
	return idx.Manifests[0]
}

func TestResolveImageSelectsThePlatform(t *testing.T) {
	ctx := context.Background()
	dir := writeLayout(t, layer(t, entry{name: "a", body: "a", typ: tar.TypeReg}))
	m := rootManifest(t, dir)
	on := func(os, arch string) ocispecs.Descriptor {
		d := m
		d.Platform = &ocispecs.Platform{OS: os, Architecture: arch}
		return d
	}
	resolve := func(p *ocispecs.Platform) error {
		l, err := Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		_, err = l.ResolveImage(ctx, p)
		return err
	}
	attestation := on("unknown", "unknown")
	attestation.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest"}

	writeIndex(t, dir, on("linux", "s390x"), attestation)
	if err := resolve(nil); err != nil {
		t.Errorf("the only image, of another platform, with no platform asked for: %v", err)
	}
	writeIndex(t, dir, on("linux", "s390x"), on("linux", "riscv64"), attestation)
	if err := resolve(&ocispecs.Platform{OS: "linux", Architecture: "riscv64"}); err != nil {
		t.Errorf("riscv64: %v", err)
	}
	err := resolve(&ocispecs.Platform{OS: "linux", Architecture: "ppc64le"})
	if err == nil || !strings.Contains(err.Error(), "no image for linux/ppc64le in the layout (it has linux/s390x, linux/riscv64)") {
		t.Errorf("ppc64le: %v", err)
	}
	writeIndex(t, dir, attestation)
	if err := resolve(nil); err == nil || !strings.Contains(err.Error(), "holds no image manifest") {
		t.Errorf("only an attestation manifest: %v", err)
	}
}

// An index may name one manifest many times over: every name is a read.
func TestResolveImageBoundsTheManifestsItReads(t *testing.T) {
	ctx := context.Background()
	dir := writeLayout(t, layer(t, entry{name: "a", body: "a", typ: tar.TypeReg}))
	m := rootManifest(t, dir)
	ds := make([]ocispecs.Descriptor, maxManifests+1)
	for i := range ds {
		ds[i] = m
	}
	writeIndex(t, dir, ds...)
	l, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.ResolveImage(ctx, nil); err == nil || !strings.Contains(err.Error(), "more than fipsgate reads") {
		t.Errorf("ResolveImage = %v, want the manifest bound", err)
	}
}
