package fipsmodule

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"
)

// The expected MAC was computed independently (Python's hmac module with the
// default key), so this checks the key and the formatting, not just the code.
func TestInspect(t *testing.T) {
	module := []byte("\x7fELF\x00\x01OpenSSL FIPS Provider\x00\x003.1.2\x00OpenSSL 3.1.2 1 Aug 2023\x00\xff")
	// One byte at a time: strings must be found across Write calls.
	info, err := Inspect(iotest.OneByteReader(bytes.NewReader(module)))
	if err != nil {
		t.Fatal(err)
	}
	want := Info{
		Size:    int64(len(module)),
		SHA256:  "4a3471cc1672e0a3459f1e9f85a74ce2721c9c19a2f4e5f28469e4daedbdb50d",
		MAC:     "58:F1:00:DF:AF:A1:5F:A8:5E:1D:57:FE:9F:74:D7:40:1B:6F:29:C0:AD:E6:44:36:45:FD:B8:9D:EA:76:64:6F",
		Name:    "OpenSSL FIPS Provider",
		Version: "3.1.2",
	}
	if info != want {
		t.Errorf("Inspect = %+v\nwant      %+v", info, want)
	}
}

func TestInspectVersionWithoutVersionText(t *testing.T) {
	info, err := Inspect(strings.NewReader("junk\x00Vendor FIPS Provider for OpenSSL\x003.0.9\x00"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != "3.0.9" || info.Name != "Vendor FIPS Provider for OpenSSL" {
		t.Errorf("info = %+v", info)
	}
}

func TestNormalizeMAC(t *testing.T) {
	got, err := NormalizeMAC(" 5e:91:0a ")
	if err != nil || got != "5E:91:0A" {
		t.Errorf("NormalizeMAC = %q, %v", got, err)
	}
	if got, err := NormalizeMAC("5E910A"); err != nil || got != "5E:91:0A" {
		t.Errorf("NormalizeMAC without colons = %q, %v", got, err)
	}
	for _, bad := range []string{"", "zz:zz", "5E:9"} {
		if _, err := NormalizeMAC(bad); err == nil {
			t.Errorf("NormalizeMAC(%q) must fail", bad)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		version   string
		validated bool
		cert      int
	}{
		{"3.1.2", true, 4985},
		{"3.0.9", false, 4282}, // FIPS 140-2, historical
		{"3.5.9", false, 0},
		{"", false, 0},
	} {
		v := Validate(tc.version)
		cert := 0
		if v.Certificate != nil {
			cert = v.Certificate.Number
		}
		if v.Validated != tc.validated || cert != tc.cert || v.Reason == "" {
			t.Errorf("Validate(%q) = %+v", tc.version, v)
		}
	}
}
