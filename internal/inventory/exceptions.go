package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// exceptionsFile is the format of FIPSGATE_EXCEPTIONS:
//
//	{"exceptions": [{"path": "/opt/tool/bin/*", "kind": "go-native-crypto", "reason": "…"}]}
type exceptionsFile struct {
	Exceptions []Exception `json:"exceptions"`
}

// MaxExceptionsSize bounds an exceptions file.
const MaxExceptionsSize = 1 << 20

// ParseExceptions reads and checks an exceptions file; name is where it
// came from, for errors.
func ParseExceptions(name string, dt []byte) ([]Exception, error) {
	if len(dt) > MaxExceptionsSize {
		return nil, fmt.Errorf("FIPSGATE_EXCEPTIONS file %s is over %d bytes", name, MaxExceptionsSize)
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
		if e.Kind != "" && !IsKind(e.Kind) {
			return nil, fmt.Errorf("%s: unknown kind %q; kinds: %s", where, e.Kind, strings.Join(Kinds(), ", "))
		}
		if strings.TrimSpace(e.Reason) == "" {
			return nil, fmt.Errorf("%s: a reason is required (it is written into the attestation)", where)
		}
	}
	return f.Exceptions, nil
}
