package predicate

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schema is the JSON Schema (draft 2020-12) of Type's predicate, as
// published at SchemaURL and kept in predicate/schema/ of the repository.
//
//go:embed schema/fips-verification-v2.json
var Schema []byte

// SchemaURL is Schema's $id.
const SchemaURL = "https://fipsgate.github.io/predicate/fips-verification/v2/schema.json"

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaURL, doc); err != nil {
		return nil, err
	}
	return c.Compile(SchemaURL)
})

// Validate checks a predicate of Type, as JSON, against Schema.
func Validate(dt []byte) error {
	s, err := compiled()
	if err != nil {
		return fmt.Errorf("the predicate schema: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(dt))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}
