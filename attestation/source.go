// Package attestation is the consumer side: it finds the fipsgate in-toto
// attestations of an image — in a registry, an OCI layout or an OCI tar —
// checks them (digests, sizes, statement type, subject, predicate type) and
// applies a pipeline's policy to answer "may this image ship?".
package attestation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/fipsgate/fipsgate/internal/ocilayout"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Limits on what is read from untrusted sources.
const (
	MaxManifestSize  = 4 << 20
	MaxStatementSize = 16 << 20
)

// ErrNoReferrers says a source has no referrers API.
var ErrNoReferrers = errors.New("no referrers API")

// Source is where an image and its attestations are read from.
type Source interface {
	// Root is the descriptor the reference names (an index or a manifest).
	Root(ctx context.Context) (ocispecs.Descriptor, error)
	// Fetch reads a blob or manifest, at most limit bytes, checking its
	// size and digest against the descriptor.
	Fetch(ctx context.Context, d ocispecs.Descriptor, limit int64) ([]byte, error)
	// Referrers lists the manifests whose subject is dgst, or
	// ErrNoReferrers.
	Referrers(ctx context.Context, dgst digest.Digest) ([]ocispecs.Descriptor, error)
	String() string
}

// Open returns the source for image: an OCI layout directory or tar when
// image is an existing path (PATH@DIGEST names one entry of its
// index.json), else a registry reference. Opening a layout returns when ctx
// ends, with a *TimeoutError, whatever it was waiting on.
func Open(ctx context.Context, image string, plainHTTP bool) (Source, error) {
	type opened struct {
		l    *ocilayout.Layout
		path string
		want digest.Digest
	}
	o, err := bounded(ctx, "OCI layout "+image, func() (opened, error) {
		path, want, err := layoutPath(image)
		if err != nil || path == "" {
			return opened{}, err
		}
		l, err := ocilayout.Open(ctx, path)
		return opened{l, path, want}, err
	}, func(o opened) {
		if o.l != nil {
			o.l.Close()
		}
	})
	if err != nil {
		return nil, err
	}
	if o.l == nil {
		return newRegistrySource(image, plainHTTP)
	}
	s := &layoutSource{l: o.l, name: o.path}
	if o.want != "" {
		return &pinnedLayout{layoutSource: s, want: o.want}, nil
	}
	return s, nil
}

// layoutPath says which layout image names: the path itself when it exists,
// or, for PATH@DIGEST, PATH and DIGEST; "" when image is no path.
func layoutPath(image string) (string, digest.Digest, error) {
	if _, err := os.Stat(image); err == nil {
		return image, "", nil
	}
	p, d, ok := strings.Cut(image, "@")
	if !ok {
		return "", "", nil
	}
	if _, err := os.Stat(p); err != nil {
		return "", "", nil
	}
	dgst, err := digest.Parse(d)
	if err != nil {
		return "", "", fmt.Errorf("%s: %q is not a digest: %w", image, d, err)
	}
	return p, dgst, nil
}

// TimeoutError says what a read was waiting on when its context ended.
type TimeoutError struct {
	What string // "index.json of OCI layout image.tar"
	Err  error  // the context's error
}

func (e *TimeoutError) Error() string {
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return "timed out while reading " + e.What
	}
	return "stopped while reading " + e.What + ": " + e.Err.Error()
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// bounded runs read and returns its result, or a *TimeoutError naming what
// as soon as ctx ends. The layout's readers check ctx between reads, but a
// single system call can still block where no context reaches (a file on a
// hung network or FUSE filesystem); read then finishes in the background
// and release is given whatever it returns.
func bounded[T any](ctx context.Context, what string, read func() (T, error), release func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := read()
		done <- result{v, err}
	}()
	var zero T
	select {
	case r := <-done:
		if r.err != nil && ctx.Err() != nil {
			return zero, &TimeoutError{What: what, Err: ctx.Err()}
		}
		return r.v, r.err
	case <-ctx.Done():
		if release != nil {
			go func() { release((<-done).v) }()
		}
		return zero, &TimeoutError{What: what, Err: ctx.Err()}
	}
}

// pinnedLayout is an OCI layout or tar read at the entry of its index.json
// that a digest names.
type pinnedLayout struct {
	*layoutSource
	want digest.Digest
}

func (s *pinnedLayout) String() string { return s.name + "@" + s.want.String() }

func (s *pinnedLayout) Root(ctx context.Context) (ocispecs.Descriptor, error) {
	idx, err := bounded(ctx, "index.json of OCI layout "+s.name, func() (*ocispecs.Index, error) { return s.l.Index(ctx) }, nil)
	if err != nil {
		return ocispecs.Descriptor{}, err
	}
	for _, d := range idx.Manifests {
		if d.Digest == s.want {
			return d, nil
		}
	}
	return ocispecs.Descriptor{}, fmt.Errorf("%s: index.json has no entry %s", s.name, s.want)
}

// Pinned is the reference of dgst in the layout.
func (s *pinnedLayout) Pinned(dgst digest.Digest) string { return s.name + "@" + dgst.String() }

// checked verifies content against its descriptor.
func checked(d ocispecs.Descriptor, dt []byte) error {
	if int64(len(dt)) != d.Size {
		return fmt.Errorf("%s: %d bytes, the descriptor says %d", d.Digest, len(dt), d.Size)
	}
	if err := d.Digest.Validate(); err != nil {
		return err
	}
	if d.Digest.Algorithm().FromBytes(dt) != d.Digest {
		return fmt.Errorf("%s: content does not match its digest", d.Digest)
	}
	return nil
}

func readLimited(r io.Reader, d ocispecs.Descriptor, limit int64) ([]byte, error) {
	if d.Size > limit || d.Size < 0 {
		return nil, fmt.Errorf("%s is %d bytes, over the %d limit", d.Digest, d.Size, limit)
	}
	dt, err := io.ReadAll(io.LimitReader(r, d.Size+1))
	if err != nil {
		return nil, err
	}
	return dt, checked(d, dt)
}

type layoutSource struct {
	l    *ocilayout.Layout
	name string
}

func (s *layoutSource) String() string { return s.name }

// Pinned is the reference of dgst in the layout, as Open reads it.
func (s *layoutSource) Pinned(dgst digest.Digest) string { return s.name + "@" + dgst.String() }

func (s *layoutSource) Root(ctx context.Context) (ocispecs.Descriptor, error) {
	idx, err := bounded(ctx, "index.json of OCI layout "+s.name, func() (*ocispecs.Index, error) { return s.l.Index(ctx) }, nil)
	if err != nil {
		return ocispecs.Descriptor{}, err
	}
	// BuildKit's OCI export names one image: index.json points at its index.
	if len(idx.Manifests) == 1 {
		return idx.Manifests[0], nil
	}
	return ocispecs.Descriptor{}, fmt.Errorf("%s: index.json names %d images; want one", s.name, len(idx.Manifests))
}

func (s *layoutSource) Fetch(ctx context.Context, d ocispecs.Descriptor, limit int64) ([]byte, error) {
	if d.Size > limit {
		return nil, fmt.Errorf("%s is %d bytes, over the %d limit", d.Digest, d.Size, limit)
	}
	return bounded(ctx, "blob "+d.Digest.String()+" of OCI layout "+s.name, func() ([]byte, error) {
		rc, err := s.l.Blob(ctx, d)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return readLimited(rc, d, limit)
	}, nil)
}

func (s *layoutSource) Referrers(context.Context, digest.Digest) ([]ocispecs.Descriptor, error) {
	return nil, ErrNoReferrers
}

type registrySource struct {
	ref  string
	repo reference.Named
	// tag is the tag the image was named by, if it was: it is resolved
	// once, and everything after reads by digest.
	tag      string
	resolver remotes.Resolver
}

func newRegistrySource(image string, plainHTTP bool) (*registrySource, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a path nor an image reference: %w", image, err)
	}
	named = reference.TagNameOnly(named)
	var tag string
	if _, digested := named.(reference.Digested); !digested {
		tag = named.(reference.Tagged).Tag()
	}
	cfg := dockerconfig.LoadDefaultConfigFile(io.Discard)
	creds := func(host string) (string, string, error) {
		key := host
		if host == "registry-1.docker.io" || host == "docker.io" {
			key = "https://index.docker.io/v1/"
		}
		ac, err := cfg.GetAuthConfig(key)
		if err != nil {
			return "", "", err
		}
		if ac.IdentityToken != "" {
			return "", ac.IdentityToken, nil
		}
		return ac.Username, ac.Password, nil
	}
	plain := docker.MatchLocalhost
	if plainHTTP {
		plain = func(string) (bool, error) { return true, nil }
	}
	resolver := docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(
			docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthCreds(creds), docker.WithAuthClient(http.DefaultClient))),
			docker.WithPlainHTTP(plain),
		),
	})
	return &registrySource{ref: named.String(), repo: reference.TrimNamed(named), tag: tag, resolver: resolver}, nil
}

func (s *registrySource) String() string { return s.ref }

// Tag is the tag the image was named by, "" when it was named by digest.
func (s *registrySource) Tag() string { return s.tag }

// Pinned is the reference of dgst in the image's repository.
func (s *registrySource) Pinned(dgst digest.Digest) string {
	return s.repo.String() + "@" + dgst.String()
}

func (s *registrySource) Tagged(ctx context.Context, tag string) (ocispecs.Descriptor, bool, error) {
	ref := s.repo.String() + ":" + tag
	_, d, err := s.resolver.Resolve(ctx, ref)
	if errdefs.IsNotFound(err) {
		return ocispecs.Descriptor{}, false, nil
	}
	if err != nil {
		return ocispecs.Descriptor{}, false, fmt.Errorf("resolving %s: %w", ref, err)
	}
	return d, true, nil
}

func (s *registrySource) Root(ctx context.Context) (ocispecs.Descriptor, error) {
	_, d, err := s.resolver.Resolve(ctx, s.ref)
	if err != nil {
		return ocispecs.Descriptor{}, fmt.Errorf("resolving %s: %w", s.ref, err)
	}
	return d, nil
}

func (s *registrySource) fetcher(ctx context.Context) (remotes.Fetcher, error) {
	return s.resolver.Fetcher(ctx, s.ref)
}

func (s *registrySource) Fetch(ctx context.Context, d ocispecs.Descriptor, limit int64) ([]byte, error) {
	if d.Size > limit {
		return nil, fmt.Errorf("%s is %d bytes, over the %d limit", d.Digest, d.Size, limit)
	}
	f, err := s.fetcher(ctx)
	if err != nil {
		return nil, err
	}
	rc, err := f.Fetch(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", d.Digest, err)
	}
	defer rc.Close()
	return readLimited(rc, d, limit)
}

func (s *registrySource) Referrers(ctx context.Context, dgst digest.Digest) ([]ocispecs.Descriptor, error) {
	f, err := s.fetcher(ctx)
	if err != nil {
		return nil, err
	}
	rf, ok := f.(remotes.ReferrersFetcher)
	if !ok {
		return nil, ErrNoReferrers
	}
	ds, err := rf.FetchReferrers(ctx, dgst)
	if err != nil {
		// Registries without the API answer 404 (or worse); the index
		// entries remain the way in.
		return nil, fmt.Errorf("%w: %v", ErrNoReferrers, err)
	}
	return ds, nil
}
