package frontend

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseOptions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		buildArgs map[string]string
		defaults  map[string]string
		want      Options
		wantErr   string
	}{
		{name: "defaults", want: DefaultOptions},
		{
			name:      "build-arg wins over the Dockerfile's ARG default",
			buildArgs: map[string]string{"FIPSGATE_MODE": "warn", "OTHER": "x"},
			defaults:  map[string]string{"FIPSGATE_MODE": "off", "FIPSGATE_TIMEOUT_SECONDS": "2.5"},
			want:      Options{Mode: ModeWarn, TimeoutSeconds: 2.5},
		},
		{
			name:      "shell-form check",
			buildArgs: map[string]string{"FIPSGATE_CHECK": "app --self-test"},
			want:      Options{Mode: ModeEnforce, TimeoutSeconds: 30, Check: []string{"/bin/sh", "-c", "app --self-test"}, CheckSet: true},
		},
		{
			name:      "exec-form check and the rest",
			buildArgs: map[string]string{"FIPSGATE_CHECK": `["/app","-v"]`, "FIPSGATE_EXPECT_FAILURE": "FIPS|fips", "FIPSGATE_REQUIRE_VALIDATED": "true", "FIPSGATE_READY_SECONDS": "1"},
			want:      Options{Mode: ModeEnforce, ReadySeconds: 1, TimeoutSeconds: 30, Check: []string{"/app", "-v"}, CheckSet: true, ExpectFailure: "FIPS|fips", RequireValidated: true},
		},
		{
			name:      "probe request with escapes",
			buildArgs: map[string]string{"FIPSGATE_PROBE_REQUEST": `GET /health HTTP/1.0\r\nX: "y"\r\n\r\n`},
			want:      Options{Mode: ModeEnforce, TimeoutSeconds: 30, ProbeRequest: "GET /health HTTP/1.0\r\nX: \"y\"\r\n\r\n"},
		},
		{name: "bad probe request", buildArgs: map[string]string{"FIPSGATE_PROBE_REQUEST": `\q`}, wantErr: "FIPSGATE_PROBE_REQUEST"},
		{
			name:      "no application",
			buildArgs: map[string]string{"FIPSGATE_CHECK": "none"},
			want:      Options{Mode: ModeEnforce, TimeoutSeconds: 30, CheckSet: true},
		},
		{
			name:      "resource URI",
			buildArgs: map[string]string{"FIPSGATE_RESOURCE_URI": "pkg:docker/registry.example/app?platform=linux%2Famd64"},
			want:      Options{Mode: ModeEnforce, TimeoutSeconds: 30, ResourceURI: "pkg:docker/registry.example/app?platform=linux%2Famd64"},
		},
		{name: "relative resource URI", buildArgs: map[string]string{"FIPSGATE_RESOURCE_URI": "registry.example/app"}, wantErr: `FIPSGATE_RESOURCE_URI="registry.example/app": invalid value; accepted: an absolute URI`},
		{name: "resource URI with a space", buildArgs: map[string]string{"FIPSGATE_RESOURCE_URI": "https://registry.example/a b"}, wantErr: "accepted: an absolute URI"},
		{name: "resource URI with a newline", buildArgs: map[string]string{"FIPSGATE_RESOURCE_URI": "https://registry.example/a\nb"}, wantErr: "accepted: an absolute URI"},
		{name: "bad mode", buildArgs: map[string]string{"FIPSGATE_MODE": "strict"}, wantErr: `--build-arg FIPSGATE_MODE="strict": invalid value; accepted: enforce, warn or off`},
		{name: "bad mode in the Dockerfile", defaults: map[string]string{"FIPSGATE_MODE": "yes"}, wantErr: `the Dockerfile's ARG FIPSGATE_MODE="yes": invalid value; accepted: enforce, warn or off`},
		{name: "bad timeout", buildArgs: map[string]string{"FIPSGATE_TIMEOUT_SECONDS": "0"}, wantErr: "greater than 0"},
		{name: "bad regexp", buildArgs: map[string]string{"FIPSGATE_EXPECT_FAILURE": "("}, wantErr: "regular expression"},
		{name: "bad bool", buildArgs: map[string]string{"FIPSGATE_REQUIRE_VALIDATED": "maybe"}, wantErr: "true or false"},
		{name: "bad exec form", buildArgs: map[string]string{"FIPSGATE_CHECK": `["/app",`}, wantErr: "JSON array"},
		{name: "bad regexp says why", buildArgs: map[string]string{"FIPSGATE_EXPECT_FAILURE": "("}, wantErr: "--build-arg FIPSGATE_EXPECT_FAILURE=\"(\": invalid value (error parsing regexp: missing closing ): `(`); accepted: a regular expression (Go RE2 syntax)"},
		{name: "unknown option", buildArgs: map[string]string{"FIPSGATE_FOO": "warn"}, wantErr: "--build-arg FIPSGATE_FOO: unknown fipsgate option; known options: FIPSGATE_CHECK, FIPSGATE_EXCEPTIONS,"},
		{name: "unknown option, a typo", buildArgs: map[string]string{"FIPSGATE_MOD": "warn"}, wantErr: "--build-arg FIPSGATE_MOD: unknown fipsgate option (did you mean FIPSGATE_MODE?)"},
		{name: "unknown option in the Dockerfile", defaults: map[string]string{"FIPSGATE_TIMEOUT": "5"}, wantErr: "the Dockerfile's ARG FIPSGATE_TIMEOUT: unknown fipsgate option (did you mean FIPSGATE_TIMEOUT_SECONDS?)"},
		{name: "lower case is fipsgate's too", buildArgs: map[string]string{"fipsgate_strict": "true"}, wantErr: "--build-arg fipsgate_strict: unknown fipsgate option (did you mean FIPSGATE_STRICT?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseOptions(tc.buildArgs, tc.defaults)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestSuggestOption(t *testing.T) {
	for name, want := range map[string]string{
		"FIPSGATE_MOD":              "FIPSGATE_MODE",
		"FIPSGATE_STRIKT":           "FIPSGATE_STRICT",
		"FIPSGATE_EXCEPTION":        "FIPSGATE_EXCEPTIONS",
		"fipsgate_mode":             "FIPSGATE_MODE",
		"Fipsgate_Check":            "FIPSGATE_CHECK",
		"FIPSGATE_TIMEOUT":          "FIPSGATE_TIMEOUT_SECONDS",
		"FIPSGATE_TIMEOUT_SECS":     "FIPSGATE_TIMEOUT_SECONDS",
		"FIPSGATE_READY":            "FIPSGATE_READY_SECONDS",
		"FIPSGATE_VALIDATED":        "FIPSGATE_REQUIRE_VALIDATED",
		"FIPSGATE_REQUIRE":          "FIPSGATE_REQUIRE_VALIDATED",
		"FIPSGATE_REQUEST":          "FIPSGATE_PROBE_REQUEST",
		"FIPSGATE_CHECK_COMMAND":    "FIPSGATE_CHECK",
		"FIPSGATE_EXPECTED_FAILURE": "FIPSGATE_EXPECT_FAILURE",
		// Nothing it could mean, or more than one thing.
		"FIPSGATE_":              "",
		"FIPSGATE_FOO":           "",
		"FIPSGATE_SECONDS":       "",
		"FIPSGATE_READY_TIMEOUT": "",
	} {
		if got := suggestOption(name); got != want {
			t.Errorf("suggestOption(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestAppCommand(t *testing.T) {
	for _, tc := range []struct {
		name            string
		o               Options
		entrypoint, cmd []string
		want            []string
		source          string
	}{
		{"entrypoint and cmd", DefaultOptions, []string{"/app"}, []string{"serve"}, []string{"/app", "serve"}, "ENTRYPOINT and CMD"},
		{"cmd alone", DefaultOptions, nil, []string{"/bin/sh", "-c", "app"}, []string{"/bin/sh", "-c", "app"}, "ENTRYPOINT and CMD"},
		{"base image", DefaultOptions, nil, nil, nil, ""},
		{"FIPSGATE_CHECK", Options{Check: []string{"/x"}, CheckSet: true}, []string{"/app"}, nil, []string{"/x"}, "FIPSGATE_CHECK"},
		{"none", Options{CheckSet: true}, []string{"/app"}, nil, nil, "FIPSGATE_CHECK=none"},
	} {
		got, source := AppCommand(tc.o, tc.entrypoint, tc.cmd)
		if !reflect.DeepEqual(got, tc.want) || source != tc.source {
			t.Errorf("%s: got %q from %q, want %q from %q", tc.name, got, source, tc.want, tc.source)
		}
	}
}
