package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/fipsgate/fipsgate/inventory"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
)

// exceptionsFile is the format of FIPSGATE_EXCEPTIONS:
//
//	{"exceptions": [{"path": "/opt/tool/bin/*", "kind": "go-native-crypto", "reason": "…"}]}
type exceptionsFile struct {
	Exceptions []inventory.Exception `json:"exceptions"`
}

const maxExceptionsSize = 1 << 20

// ParseExceptions reads and checks an exceptions file; name is where it
// came from, for errors.
func ParseExceptions(name string, dt []byte) ([]inventory.Exception, error) {
	if len(dt) > maxExceptionsSize {
		return nil, fmt.Errorf("FIPSGATE_EXCEPTIONS file %s is over %d bytes", name, maxExceptionsSize)
	}
	var f exceptionsFile
	dec := json.NewDecoder(bytes.NewReader(dt))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf(`FIPSGATE_EXCEPTIONS file %s: %v; want {"exceptions": [{"path": …, "kind": …, "reason": …}]}`, name, err)
	}
	for i, e := range f.Exceptions {
		where := fmt.Sprintf("FIPSGATE_EXCEPTIONS file %s, exception %d", name, i+1)
		if !strings.HasPrefix(e.Path, "/") {
			return nil, fmt.Errorf("%s: path %q must be an absolute path or pattern in the image", where, e.Path)
		}
		if _, err := path.Match(e.Path, "/"); err != nil {
			return nil, fmt.Errorf("%s: path %q is not a valid pattern: %v", where, e.Path, err)
		}
		if e.Kind != "" && !inventory.IsKind(e.Kind) {
			return nil, fmt.Errorf("%s: unknown kind %q; kinds: %s", where, e.Kind, strings.Join(inventory.Kinds(), ", "))
		}
		if strings.TrimSpace(e.Reason) == "" {
			return nil, fmt.Errorf("%s: a reason is required (it is written into the attestation)", where)
		}
	}
	return f.Exceptions, nil
}

// loadExceptions reads the FIPSGATE_EXCEPTIONS file from the build context
// or a named context.
func loadExceptions(ctx context.Context, c client.Client, spec string) ([]inventory.Exception, error) {
	if spec == "" {
		return nil, nil
	}
	bc, err := dockerui.NewClient(c)
	if err != nil {
		return nil, err
	}
	var st *llb.State
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
	dt, err := ref.ReadFile(ctx, client.ReadRequest{Filename: path.Clean("/" + file), Range: &client.FileRange{Length: maxExceptionsSize + 1}})
	if err != nil {
		return nil, fmt.Errorf("FIPSGATE_EXCEPTIONS=%s: cannot read %s: %w", spec, file, err)
	}
	return ParseExceptions(spec, dt)
}
