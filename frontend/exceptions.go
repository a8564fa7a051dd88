package frontend

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/fipsgate/fipsgate/internal/inventory"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
)

// loadExceptions reads the FIPSGATE_EXCEPTIONS file from the build context
// or a named context.
func loadExceptions(ctx context.Context, c client.Client, bc *dockerui.Client, spec string) ([]inventory.Exception, error) {
	if spec == "" {
		return nil, nil
	}
	var st *llb.State
	var err error
	file := spec
	if name, p, ok := strings.Cut(spec, ":"); ok && c.BuildOpts().Opts["context:"+name] != "" {
		nc, err := bc.NamedContext(name, dockerui.ContextOpt{})
		if err != nil {
			return nil, fmt.Errorf("FIPSGATE_EXCEPTIONS=%s: named context %s: %w", spec, name, err)
		}
		if nc == nil {
			return nil, fmt.Errorf("FIPSGATE_EXCEPTIONS=%s: no named context %s", spec, name)
		}
		st, _, err = nc.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("FIPSGATE_EXCEPTIONS=%s: %w", spec, err)
		}
		file = p
	} else {
		st, err = bc.MainContext(ctx, llb.FollowPaths([]string{path.Clean(file)}))
		if err != nil {
			return nil, fmt.Errorf("FIPSGATE_EXCEPTIONS=%s: the build context: %w", spec, err)
		}
	}
	ref, err := solve(ctx, c, *st)
	if err != nil {
		return nil, fmt.Errorf("FIPSGATE_EXCEPTIONS=%s: %w", spec, err)
	}
	dt, err := ref.ReadFile(ctx, client.ReadRequest{Filename: path.Clean("/" + file), Range: &client.FileRange{Length: inventory.MaxExceptionsSize + 1}})
	if err != nil {
		return nil, fmt.Errorf("FIPSGATE_EXCEPTIONS=%s: cannot read %s: %w", spec, file, err)
	}
	return inventory.ParseExceptions(spec, dt)
}
