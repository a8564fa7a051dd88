package frontend

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/fipsmodule"
	"github.com/fipsgate/fipsgate/internal/inventory"

	"github.com/fipsgate/fipsgate/internal/probe"
)

// The predicate says how the platform's programs ran, and by how much the
// time limits were scaled.
func TestEmulationRecorded(t *testing.T) {
	static := &probe.Report{Kind: probe.KindStatic, Emulation: &probe.Emulation{
		Emulated: true, Machine: "aarch64", Host: "x86_64", TimeScale: probe.EmulationTimeScale, How: "/usr/bin/openssl (the openssl command) is aarch64: …",
	}}
	p := newPredicate(predicateInput{Platform: "linux/arm64", Static: static})
	dt, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `"emulation":{"emulated":true,"machine":"aarch64","host":"x86_64","timeScale":100,"how":"/usr/bin/openssl (the openssl command) is aarch64: …"}`
	if !strings.Contains(string(dt), want) {
		t.Errorf("predicate %s\nwant %s", dt, want)
	}
}

// fill sets every exported field of v, recursively, to a value that is not
// its zero, so that a field the predicate does not carry shows.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Float64:
		v.SetFloat(1)
	}
}

// TestPredicateMirrorsReports: the predicate's wire types carry every
// field of what they are made from, under the same JSON names (but for
// the renames schema 2 made, listed here), so that the predicate says what
// the probe found.
func TestPredicateMirrorsReports(t *testing.T) {
	var inv inventory.Inventory
	fill(reflect.ValueOf(&inv).Elem())
	var check probe.Check
	fill(reflect.ValueOf(&check).Elem())
	var opts Options
	fill(reflect.ValueOf(&opts).Elem())
	var cert fipsmodule.Certificate
	fill(reflect.ValueOf(&cert).Elem())
	var id probe.ModuleIdentity
	fill(reflect.ValueOf(&id).Elem())
	var pkg probe.ModulePackage
	fill(reflect.ValueOf(&pkg).Elem())
	p := newPredicate(predicateInput{Options: opts, Static: &probe.Report{Kind: probe.KindStatic, Checks: []probe.Check{check}, Inventory: &inv,
		Module: &probe.ModuleFacts{Path: "x", Validation: fipsmodule.Validation{Certificate: &cert}, Identity: &id, Package: &pkg}}})
	for _, c := range []struct {
		name      string
		from, got any
	}{
		{"inventory", inv, p.Inventory},
		{"check", check, p.Stages[0].Checks[0]},
		{"options", opts, p.Options},
		{"certificate", cert, p.Module.CMVP.Certificate},
		{"identity", id, p.Module.Identity},
		{"package", pkg, p.Module.Package},
	} {
		want, _ := json.Marshal(c.from)
		// A hex SHA-256 is an in-toto DigestSet in the predicate.
		want = []byte(strings.ReplaceAll(string(want), `"outputSha256":"x"`, `"outputDigest":{"sha256":"x"}`))
		got, _ := json.Marshal(c.got)
		if string(want) != string(got) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, want)
		}
	}
}

// The self-test report's evidence is in the predicate as the probe
// recorded it, naming the check it is the evidence of; a list with nothing
// in it is [], and evidence that was not gathered is absent.
func TestSelfTestsAndAlgorithmsRecorded(t *testing.T) {
	var tests probe.SelfTests
	fill(reflect.ValueOf(&tests).Elem())
	var algorithms probe.Algorithms
	fill(reflect.ValueOf(&algorithms).Elem())
	static := &probe.Report{Kind: probe.KindStatic}
	self := &probe.Report{Kind: probe.KindSelfTest, SelfTests: &tests, Algorithms: &algorithms}
	negative := &probe.Report{Kind: probe.KindNegative, Mutation: probe.MutationModuleCorrupted}
	p := newPredicate(predicateInput{Static: static, Dynamic: []*probe.Report{self, negative}})
	if p.SelfTests == nil || p.SelfTests.Check != probe.CheckSelfTests || p.Algorithms == nil || p.Algorithms.Check != probe.CheckAlgorithms {
		t.Fatalf("self-tests %+v, algorithms %+v", p.SelfTests, p.Algorithms)
	}
	for _, c := range []struct {
		name      string
		from, got any
	}{
		{"self-tests", tests.Tests, p.SelfTests.Tests},
		{"served", algorithms.Served, p.Algorithms.Served},
		{"non-approved", algorithms.NonApproved, p.Algorithms.NonApproved},
	} {
		want, _ := json.Marshal(c.from)
		got, _ := json.Marshal(c.got)
		if string(want) != string(got) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, want)
		}
	}

	self.SelfTests, self.Algorithms = &probe.SelfTests{}, &probe.Algorithms{}
	dt, err := json.Marshal(newPredicate(predicateInput{Static: static, Dynamic: []*probe.Report{self}}))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"selfTests":{"check":"self-tests","tests":[]}`, `"algorithms":{"check":"algorithms","served":[],"nonApproved":[]}`} {
		if !strings.Contains(string(dt), want) {
			t.Errorf("predicate %s\nwant %s", dt, want)
		}
	}

	self.SelfTests, self.Algorithms = nil, nil
	dt, err = json.Marshal(newPredicate(predicateInput{Static: static, Dynamic: []*probe.Report{self}}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(dt), "selfTests") || strings.Contains(string(dt), "algorithms") {
		t.Errorf("evidence that was not gathered: %s", dt)
	}
}
