package probe

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fipsgate/fipsgate/internal/fipsmodule"
	"github.com/fipsgate/fipsgate/internal/imagefs"
	"github.com/fipsgate/fipsgate/internal/opensslconf"
)

func TestResolveUser(t *testing.T) {
	root := imagefs.Root{Dir: "testdata"}
	for _, tc := range []struct {
		user    string
		uid     uint32
		gid     uint32
		groups  []uint32
		home    string
		wantErr string
	}{
		{user: "", uid: 0, gid: 0, home: "/root"},
		{user: "app", uid: 1000, gid: 1000, groups: []uint32{2000}, home: "/home/app"},
		{user: "1000", uid: 1000, gid: 1000, groups: []uint32{2000}, home: "/home/app"},
		{user: "app:crypto", uid: 1000, gid: 2000, home: "/home/app"},
		{user: "65532:65532", uid: 65532, gid: 65532, home: "/"},
		{user: "65532", uid: 65532, gid: 0, home: "/"},
		{user: "nohome", uid: 1001, gid: 1001, home: "/"},
		{user: "nobody", wantErr: "unable to find user nobody"},
		{user: "app:nogroup", wantErr: "unable to find group nogroup"},
	} {
		id, err := resolveUser(root, tc.user)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err = %v, want %q", tc.user, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.user, err)
			continue
		}
		want := &syscall.Credential{Uid: tc.uid, Gid: tc.gid, Groups: tc.groups}
		if !reflect.DeepEqual(id.Cred, want) || id.Home != tc.home {
			t.Errorf("%q: got %+v home %q, want %+v home %q", tc.user, id.Cred, id.Home, want, tc.home)
		}
	}
}

func TestRunOutcomes(t *testing.T) {
	ctx := context.Background()
	sh := func(script string) []string { return []string{"/bin/sh", "-c", script} }
	for _, tc := range []struct {
		name    string
		cmd     command
		check   func(outcome) bool
		ran     bool
		refused bool
	}{
		{"exit 0", command{Args: sh("echo hello"), Timeout: 5 * time.Second},
			func(o outcome) bool { return *o.ExitCode == 0 && strings.Contains(string(o.Output), "hello") }, true, false},
		{"exit 3", command{Args: sh("echo oops >&2; exit 3"), Timeout: 5 * time.Second},
			func(o outcome) bool { return *o.ExitCode == 3 && strings.Contains(string(o.Output), "oops") }, false, true},
		{"abort", command{Args: sh("kill -ABRT $$"), Timeout: 5 * time.Second},
			func(o outcome) bool { return o.Signal == "SIGABRT" && o.ExitCode == nil }, false, true},
		{"still running", command{Args: sh("sleep 30"), Timeout: 5 * time.Second, ReadyAfter: 100 * time.Millisecond},
			func(o outcome) bool { return o.StillRunning }, true, false},
		{"timeout", command{Args: sh("sleep 30"), Timeout: 100 * time.Millisecond},
			func(o outcome) bool { return o.TimedOut && o.ExitCode == nil }, false, false},
		{"missing binary", command{Args: []string{"/nonexistent/app"}, Timeout: time.Second},
			func(o outcome) bool { return o.StartError != nil }, false, false},
		{"detached child keeps the output open", command{Args: sh("setsid sleep 5 & echo started"), Timeout: 5 * time.Second},
			func(o outcome) bool { return *o.ExitCode == 0 && strings.Contains(string(o.Output), "started") }, true, false},
		{"stdin", command{Args: sh("cat"), Stdin: []byte("from stdin"), Timeout: 5 * time.Second},
			func(o outcome) bool { return string(o.Output) == "from stdin" }, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			o := run(ctx, tc.cmd)
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
			if !tc.check(o) || o.Ran() != tc.ran || o.Refused() != tc.refused {
				t.Errorf("outcome %+v (%s): ran=%v refused=%v", o, o.Describe(), o.Ran(), o.Refused())
			}
			if len(o.OutputSHA256) != 64 && o.StartError == nil {
				t.Errorf("no output digest")
			}
		})
	}
}

// A server that listens is seen as up without waiting for ReadyAfter.
func TestRunSeesAListener(t *testing.T) {
	if os.Getenv("FIPSGATE_TEST_LISTEN") == "1" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			os.Exit(7)
		}
		defer l.Close()
		time.Sleep(30 * time.Second)
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	o := run(context.Background(), command{
		Args:        []string{self, "-test.run=^TestRunSeesAListener$"},
		Env:         append(os.Environ(), "FIPSGATE_TEST_LISTEN=1"),
		Timeout:     20 * time.Second,
		ReadyAfter:  15 * time.Second,
		WatchListen: true,
	})
	if !o.Listening || time.Since(start) > 10*time.Second {
		t.Fatalf("outcome %+v after %s: want listening, quickly", o, time.Since(start))
	}
}

// The whole process group goes when the command is stopped.
func TestRunKillsTheProcessGroup(t *testing.T) {
	pidFile := t.TempDir() + "/pid"
	o := run(context.Background(), command{Args: []string{"/bin/sh", "-c", "sleep 30 & echo $! > " + pidFile + "; wait"}, Timeout: 300 * time.Millisecond})
	if !o.TimedOut {
		t.Fatalf("outcome %+v", o)
	}
	dt, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(dt)))
	if err != nil || pid <= 0 {
		t.Fatalf("pid file: %q", dt)
	}
	// Gone, or dead and not yet reaped; a survivor sleeps on for 30 s.
	deadline := time.Now().Add(5 * time.Second)
	for {
		state := processState(t, pid)
		if state == "" || state == "Z" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background child %d survived: state %s", pid, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processState is the state of process pid as /proc/PID/stat gives it
// ("S", "Z"…), "" when there is no such process.
func processState(t *testing.T, pid int) string {
	t.Helper()
	dt, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	// The state follows the command name, in parentheses it may contain.
	i := bytes.LastIndexByte(dt, ')')
	if i < 0 || i+2 >= len(dt) {
		t.Fatalf("/proc/%d/stat: %q", pid, dt)
	}
	return string(dt[i+2])
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("x", 5000)
	if got := excerpt([]byte("a\nb\nc\nd\n"), 2); got != "c\nd" {
		t.Errorf("excerpt = %q", got)
	}
	if got := excerpt([]byte(long), 12); len(got) != 2048 {
		t.Errorf("excerpt of a long line has %d bytes", len(got))
	}
	if got := excerpt([]byte{0xff, 'a'}, 1); got != "?a" {
		t.Errorf("invalid UTF-8: %q", got)
	}
}

// What Debian's openssl 3.5.9 prints for `openssl list -providers
// -verbose` under the FIPS configuration of the base images (testdata),
// and variants of it.
func TestProviderCheck(t *testing.T) {
	dt, err := os.ReadFile("testdata/openssl-list-providers-verbose-3.5.9.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := string(dt)
	static := func(active ...string) *Report {
		r := &Report{OpenSSL: &OpenSSLFacts{}, Module: &ModuleFacts{Path: "/fips.so", Info: fipsmodule.Info{Version: "3.5.9"}}}
		for _, a := range active {
			r.OpenSSL.Summary.Providers = append(r.OpenSSL.Summary.Providers, opensslconf.Provider{Name: a, Activate: true})
		}
		return r
	}
	debian := &fipsmodule.Identity{Name: "OpenSSL FIPS Provider", Version: "3.5.9", Build: "3.5.9"}
	for _, tc := range []struct {
		name   string
		out    string
		static *Report
		want   string // "" for passed, else in the detail
		listed *fipsmodule.Identity
	}{
		{"as configured", out, static("fips", "base"), "", debian},
		{"not active", strings.Replace(out, "  fips\n    name: OpenSSL FIPS Provider\n    version: 3.5.9\n    status: active", "  fips\n    name: OpenSSL FIPS Provider\n    version: 3.5.9\n    status: inactive", 1), static("fips", "base"), "not listed with status: active", nil},
		{"default only", "Providers:\n  default\n    name: OpenSSL Default Provider\n    status: active\n", static("fips", "base"), "not listed", nil},
		{"one more than configured", out + "  default\n    name: OpenSSL Default Provider\n    status: active\n", static("fips", "base"), "does not use the configuration", debian},
		{"one less than configured", out, static("fips", "base", "legacy"), "does not use the configuration", debian},
		// What the provider reports is returned as it is: the frontend
		// holds it against the module (judgeModuleIdentity).
		{"another version", strings.Replace(out, "OpenSSL FIPS Provider\n    version: 3.5.9", "OpenSSL FIPS Provider\n    version: 3.0.9", 1), static("fips", "base"), "",
			&fipsmodule.Identity{Name: "OpenSSL FIPS Provider", Version: "3.0.9", Build: "3.5.9"}},
	} {
		c, listed := providerCheck(Check{}, tc.out, tc.static)
		if (tc.want == "") != (c.Status == Passed) || !strings.Contains(c.Detail, tc.want) || !reflect.DeepEqual(listed, tc.listed) {
			t.Errorf("%s: %s %s; listed %+v", tc.name, c.Status, c.Detail, listed)
		}
	}
}

func TestDecodeResult(t *testing.T) {
	const head = `{"version":2,"platform":"linux/amd64","run":"app",`
	for _, tc := range []struct {
		in   string
		want string
	}{
		{head + `"reports":[{"kind":"self-test","checks":[{"name":"x","status":"passed"}]}]}`, ""},
		{head + `"reports":[{"kind":"negative","mutation":"module-corrupted"}]}`, ""},
		{`{"version":1,"platform":"linux/amd64","run":"app"}`, "version"},
		{`{"version":2,"platform":"linux/386","run":"app"}`, "want run"},
		{`{"version":2,"platform":"linux/amd64","run":"static"}`, "want run"},
		{head + `"reports":[null]}`, "null report"},
		{head + `"reports":[{"kind":"other"}]}`, "unknown kind"},
		{head + `"reports":[{"kind":"negative"}]}`, "mutation"},
		{head + `"reports":[{"kind":"negative","mutation":"nothing-broken"}]}`, "mutation"},
		{head + `"reports":[{"kind":"static","mutation":"module-corrupted"}]}`, "mutation"},
		{head + `"reports":[{"kind":"static","checks":[{"name":"x","status":"ok"}]}]}`, "unknown status"},
		{head + `"reports":[{"kind":"self-test","selfTests":{"tests":[{"description":"SHA2","type":"KAT_Digest","result":"Pass"}]}}]}`, ""},
		{head + `"reports":[{"kind":"self-test","selfTests":{"tests":[{"description":"SHA2","type":"KAT_Digest","result":"Passed"}]}}]}`, "unknown result"},
		{head + `"reports":[{"kind":"self-test","selfTests":{"tests":[` + strings.Repeat(`{"result":"Pass"},`, MaxSelfTests) + `{"result":"Pass"}]}}]}`, "over the 512 limit"},
		{head + `"reports":[{"kind":"self-test","algorithms":{"nonApproved":[` + strings.Repeat(`{},`, len(nonApproved)) + `{}]}}]}`, "over the limits"},
		{`{"version":2,`, "malformed"},
		{strings.Repeat(" ", MaxResultSize+1), "limit"},
	} {
		_, err := DecodeResult([]byte(tc.in), "linux/amd64", "app")
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("DecodeResult(%.60q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

// killStrays, as init of its own PID namespace, leaves no other process
// alive: a detached daemon included.
func TestKillStrays(t *testing.T) {
	if os.Getenv("FIPSGATE_TEST_PIDNS") == "1" {
		// PID 1 here: start a daemon that leaves our process group, and
		// its child, then kill them all.
		if err := exec.Command("/bin/sh", "-c", "setsid sh -c 'sleep 30 & sleep 30' >/dev/null 2>&1 &").Run(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if countOthers(MaxProcesses) == 0 {
			t.Fatal("no daemon to kill: the test proves nothing")
		}
		if err := killStrays(); err != nil {
			t.Fatal(err)
		}
		if n := countOthers(MaxProcesses); n != 0 {
			t.Fatalf("%d processes left", n)
		}
		return
	}
	inPIDNamespace(t, "TestKillStrays")
}

// inPIDNamespace runs the test again as init of a PID namespace of its own,
// as the probe is in a check container.
func inPIDNamespace(t *testing.T, name string) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--pid", "--fork", "--mount-proc"}
	if os.Getuid() != 0 {
		// Without root, a user namespace of its own allows the PID one.
		args = append([]string{"--user", "--map-root-user"}, args...)
	}
	cmd := exec.Command("unshare", append(args, self, "-test.run=^"+name+"$", "-test.v")...)
	cmd.Env = append(os.Environ(), "FIPSGATE_TEST_PIDNS=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("in a PID namespace: %v\n%s", err, out)
	}
}

// Past MaxProcesses, the probe kills every process of the image, and the
// command that started them neither ran nor refused.
func TestProcessLimit(t *testing.T) {
	if os.Getenv("FIPSGATE_TEST_PIDNS") != "1" {
		inPIDNamespace(t, "TestProcessLimit")
		return
	}
	stop := make(chan struct{})
	defer close(stop)
	go watchProcesses(stop)
	// A command that stays under the limit is not touched.
	if o := run(context.Background(), command{Args: []string{"/bin/sh", "-c", "sleep 0.1 & sleep 0.1 & wait; exit 3"}, Timeout: 10 * time.Second}); o.ProcessLimit || !o.Refused() {
		t.Fatalf("outcome %+v", o)
	}
	// The image's processes run at imageNice (which, without CAP_SYS_NICE in
	// a check container, they cannot undo).
	if o := run(context.Background(), command{Args: []string{"/bin/sh", "-c", "exit $(nice)"}, Timeout: 10 * time.Second}); o.ExitCode == nil || *o.ExitCode != imageNice {
		t.Fatalf("outcome %+v: want exit status %d, the nice value", o, imageNice)
	}
	// A fork bomb.
	start := time.Now()
	o := run(context.Background(), command{Args: []string{"/bin/sh", "-c", "b() { b & b & wait; }; b"}, Timeout: 60 * time.Second})
	if !o.ProcessLimit || o.Ran() || o.Refused() {
		t.Fatalf("outcome %+v: %s", o, o.Describe())
	}
	t.Logf("fork bomb stopped in %s", time.Since(start))
	if err := killStrays(); err != nil {
		t.Fatal(err)
	}
	if n := countOthers(MaxProcesses); n != 0 {
		t.Fatalf("%d processes left", n)
	}
	// Whatever runs after it in the container concludes nothing.
	if o := run(context.Background(), command{Args: []string{"/bin/sh", "-c", "exit 3"}, Timeout: 10 * time.Second}); !o.ProcessLimit || o.Refused() {
		t.Fatalf("outcome %+v", o)
	}
}
