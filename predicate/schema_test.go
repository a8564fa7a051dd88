package predicate

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// fill sets every exported field of v, recursively, to a value the schema
// accepts where it constrains one, so that a field the schema does not
// know shows.
func fill(v reflect.Value, field string) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), field)
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				fill(v.Field(i), strings.Split(f.Tag.Get("json"), ",")[0])
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), field)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, "key")
		fill(e, field)
		if v.Type() == reflect.TypeFor[DigestSet]() {
			k.SetString("sha256")
			e.SetString(strings.Repeat("ab", 32))
		}
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString(map[string]string{
			"schemaVersion": "2.0", "result": Passed, "platform": "linux/arm64", "name": "fipsgate", "mode": "enforce",
			"layout": "fipsmodule.cnf", "purl": "pkg:deb/debian/openssl-provider-fips@3.5.9", "standard": "FIPS 140-3",
			"status": "passed", "severity": "warning", "kind": KindNegative, "mutation": "module-corrupted",
			"id": "negative/module-corrupted", "stage": "negative/module-corrupted",
		}[field] + "")
		if v.String() == "" {
			v.SetString("x")
		}
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Float64:
		v.SetFloat(1)
	}
}

// Every field of the Go types is in the schema, which refuses any other
// (additionalProperties: false): the two cannot drift apart unnoticed.
func TestSchemaKnowsEveryField(t *testing.T) {
	var p Predicate
	fill(reflect.ValueOf(&p).Elem(), "")
	// Fields whose values the schema pins, that fill cannot guess by name.
	p.Module.CMVP.Certificate.Status = "active"
	p.Module.CMVP.Certificate.Evidence[0].Kind = "vendor"
	p.Verifier.Name = "fipsgate"
	p.SelfTests.Check, p.SelfTests.Tests[0].Result = "self-tests", SelfTestPass
	p.Algorithms.Check, p.Algorithms.Served[0].Category, p.Algorithms.NonApproved[0].Category = "algorithms", "digest", "digest"
	dt, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(dt); err != nil {
		t.Fatalf("%v\n%s", err, dt)
	}
}

// A normalized predicate has no null, and the schema accepts its least.
func TestSchemaAcceptsTheLeastPredicate(t *testing.T) {
	p := Predicate{SchemaVersion: Version, Result: Passed, Platform: "linux/amd64", Verifier: Verifier{Name: "fipsgate", Version: "v2.0.0"},
		Options: Options{Mode: "enforce"}, Stages: []Stage{{ID: KindStatic, Kind: KindStatic}}}
	p.Normalize()
	dt, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(dt), "null") {
		t.Errorf("null in %s", dt)
	}
	if err := Validate(dt); err != nil {
		t.Fatalf("%v\n%s", err, dt)
	}
}

func TestSchemaRefuses(t *testing.T) {
	good := Predicate{SchemaVersion: Version, Result: Passed, Platform: "linux/amd64", Verifier: Verifier{Name: "fipsgate", Version: "v2.0.0"},
		Options: Options{Mode: "enforce"}}
	good.Normalize()
	base, _ := json.Marshal(good)
	for name, edit := range map[string]func(m map[string]any){
		"a null list":        func(m map[string]any) { m["warnings"] = nil },
		"an unknown field":   func(m map[string]any) { m["extra"] = true },
		"a failed result":    func(m map[string]any) { m["result"] = "FAILED" },
		"schema 1":           func(m map[string]any) { m["schemaVersion"] = "1.0" },
		"a stage without id": func(m map[string]any) { m["stages"] = []any{map[string]any{"kind": "static", "checks": []any{}}} },
		"an unknown stage id": func(m map[string]any) {
			m["stages"] = []any{map[string]any{"id": "negative", "kind": "negative", "checks": []any{}}}
		},
		"a warning as text":    func(m map[string]any) { m["warnings"] = []any{"[static] x"} },
		"a digest not in hex":  func(m map[string]any) { m["module"] = map[string]any{"digest": map[string]any{"sha256": "XYZ"}} },
		"a missing verifier":   func(m map[string]any) { delete(m, "verifier") },
		"another verifier":     func(m map[string]any) { m["verifier"] = map[string]any{"name": "other", "version": "1"} },
		"a platform with junk": func(m map[string]any) { m["platform"] = "linux/amd64;rm" },
		"no self-test": func(m map[string]any) {
			m["selfTests"] = map[string]any{"check": "self-tests", "tests": []any{}}
		},
		"a self-test passed otherwise": func(m map[string]any) {
			m["selfTests"] = map[string]any{"check": "self-tests", "tests": []any{map[string]any{"description": "SHA2", "type": "KAT_Digest", "result": "PASSED"}}}
		},
		"an algorithm of no category": func(m map[string]any) {
			m["algorithms"] = map[string]any{"check": "algorithms", "nonApproved": []any{},
				"served": []any{map[string]any{"category": "hash", "names": []any{"SHA2-256"}, "provider": "fips", "approved": true}}}
		},
		"an algorithm without a name": func(m map[string]any) {
			m["algorithms"] = map[string]any{"check": "algorithms", "nonApproved": []any{},
				"served": []any{map[string]any{"category": "digest", "names": []any{}, "provider": "fips", "approved": true}}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(base, &m); err != nil {
				t.Fatal(err)
			}
			edit(m)
			dt, _ := json.Marshal(m)
			if err := Validate(dt); err == nil {
				t.Errorf("accepted %s", dt)
			}
		})
	}
	if err := Validate(base); err != nil {
		t.Errorf("the unedited predicate: %v", err)
	}
}

// A schema 1 predicate reads as schema 2: the module's digest a DigestSet,
// stages with their identifiers, warnings structured.
func TestDecodeV1(t *testing.T) {
	v1 := `{"schemaVersion":"1.0","result":"PASSED","platform":"linux/amd64","verifier":{"name":"fipsgate","version":"v1.0.0"},
		"options":{"mode":"enforce","timeoutSeconds":30,"requireValidated":false,"strict":false},
		"module":{"name":"OpenSSL FIPS Provider","version":"3.1.2","path":"/usr/lib/ossl-modules/fips.so","sha256":"` + strings.Repeat("ab", 32) + `","size":1,"layout":"fipsmodule.cnf","macVerified":true,
			"validated":true,"certificate":{"number":4985,"standard":"FIPS 140-3","versions":["3.1.2"],"active":true,"source":"s"},"validation":"why"},
		"application":{"checked":true,"command":["/app"]},
		"stages":[{"name":"static","checks":[{"name":"c","title":"t","required":true,"status":"passed","outputSha256":"` + strings.Repeat("cd", 32) + `"}]},
			{"name":"negative","mutation":"module-corrupted","checks":[]}],
		"warnings":["[static] t: d"]}`
	p, err := Decode(TypeV1, []byte(v1))
	if err != nil {
		t.Fatal(err)
	}
	m := p.Module
	if m == nil || m.Identity.Name != "OpenSSL FIPS Provider" || m.Digest["sha256"] != strings.Repeat("ab", 32) || !m.CMVP.Validated ||
		m.CMVP.Reasoning != "why" || m.CMVP.Certificate == nil || m.CMVP.Certificate.Status != "active" {
		t.Errorf("module %+v", m)
	}
	if len(p.Stages) != 2 || p.Stages[1].ID != "negative/module-corrupted" || p.Stages[1].Kind != KindNegative ||
		p.Stages[0].Checks[0].OutputDigest["sha256"] != strings.Repeat("cd", 32) {
		t.Errorf("stages %+v", p.Stages)
	}
	if len(p.Warnings) != 1 || p.Warnings[0].Detail != "[static] t: d" {
		t.Errorf("warnings %+v", p.Warnings)
	}
	if _, err := Decode("https://example.com/other", []byte(v1)); err == nil {
		t.Error("another predicate type was read")
	}
}
