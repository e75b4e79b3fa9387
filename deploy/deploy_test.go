package deploy_test

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/botrelay/botrelay/internal/config"
)

// instruction is one Dockerfile instruction: its keyword (upper case) and
// its arguments, with continuation lines joined.
type instruction struct {
	line int
	cmd  string
	args string
}

// parseDockerfile splits a Dockerfile into instructions, skipping comments
// and blank lines and joining lines that end in a backslash.
func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		cont := strings.HasSuffix(line, `\`)
		cur.WriteString(strings.TrimSuffix(line, `\`))
		if cont {
			cur.WriteString(" ")
			continue
		}
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.Join(strings.Fields(args), " ")})
		cur.Reset()
	}
	return out
}

// checkDockerfile lists what is wrong with a botrelay Dockerfile: it must
// build in a named stage with CGO_ENABLED=0 and run from a different final
// stage that copies only the binary, as a non-root user, with /data as a
// volume and the data folder, a HEALTHCHECK that runs botrelay itself (the
// image has no curl), exec-form ENTRYPOINT, pinned base images and no ADD
// of a URL.
func checkDockerfile(text string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	ins := parseDockerfile(text)
	var stages [][]instruction
	var froms []string
	for _, in := range ins {
		if in.cmd == "FROM" {
			stages = append(stages, nil)
			froms = append(froms, in.args)
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				bad("line %d: %s before the first FROM", in.line, in.cmd)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
		if in.cmd == "ADD" && regexp.MustCompile(`(?i)\b(https?|ftp)://`).MatchString(in.args) {
			bad("line %d: ADD of a URL (download in a RUN step with a checksum, or COPY)", in.line)
		}
	}
	if len(stages) < 2 {
		bad("%d FROM stage(s): want a build stage and a smaller final stage", len(stages))
		return problems
	}
	for _, f := range froms {
		image := strings.Fields(f)[0]
		if !strings.Contains(image, ":") || strings.HasSuffix(image, ":latest") {
			bad("FROM %s: pin the image's tag", image)
		}
	}
	build := strings.Fields(froms[0])
	if len(build) != 3 || !strings.EqualFold(build[1], "AS") {
		bad("the first stage %q has no name (FROM image AS build)", froms[0])
	}
	if strings.HasPrefix(strings.Fields(froms[len(froms)-1])[0], "golang:") {
		bad("the final stage runs on the Go toolchain image")
	}
	var sawBuild bool
	for _, in := range stages[0] {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			sawBuild = true
			if !strings.Contains(in.args, "CGO_ENABLED=0") {
				bad("line %d: go build without CGO_ENABLED=0 (the binary must be static)", in.line)
			}
			if !strings.Contains(in.args, "./cmd/botrelay") {
				bad("line %d: go build does not build ./cmd/botrelay", in.line)
			}
		}
	}
	if !sawBuild {
		bad("the build stage does not run go build")
	}
	final := stages[len(stages)-1]
	last := func(cmd string) (instruction, bool) {
		for i := len(final) - 1; i >= 0; i-- {
			if final[i].cmd == cmd {
				return final[i], true
			}
		}
		return instruction{}, false
	}
	if u, ok := last("USER"); !ok {
		bad("the final stage has no USER: it would run as root")
	} else if name, _, _ := strings.Cut(u.args, ":"); name == "root" || name == "0" {
		bad("line %d: USER %s is root", u.line, u.args)
	}
	var volume, dataEnv, copied bool
	for _, in := range final {
		switch in.cmd {
		case "VOLUME":
			volume = volume || strings.Contains(in.args, `"/data"`) || slices.Contains(strings.Fields(in.args), "/data")
		case "ENV":
			dataEnv = dataEnv || slices.Contains(strings.Fields(in.args), "BOTRELAY_DATA=/data")
		case "COPY":
			copied = copied || strings.Contains(in.args, "--from=") && strings.Contains(in.args, "botrelay")
		case "ADD":
			bad("line %d: ADD in the final stage (use COPY)", in.line)
		}
	}
	if !volume {
		bad("no VOLUME /data in the final stage")
	}
	if !dataEnv {
		bad("the final stage does not set BOTRELAY_DATA=/data")
	}
	if !copied {
		bad("the final stage does not COPY --from the build stage's botrelay binary")
	}
	if hc, ok := last("HEALTHCHECK"); !ok {
		bad("no HEALTHCHECK")
	} else if _, cmd, _ := strings.Cut(hc.args, "CMD "); !strings.HasPrefix(cmd, "[") || !strings.Contains(cmd, `"healthcheck"`) {
		bad("line %d: HEALTHCHECK must run botrelay healthcheck in exec form, got %q", hc.line, hc.args)
	} else if strings.Contains(cmd, "curl") || strings.Contains(cmd, "wget") {
		bad("line %d: HEALTHCHECK uses a tool the image does not have", hc.line)
	}
	if ep, ok := last("ENTRYPOINT"); !ok || !strings.HasPrefix(ep.args, "[") {
		bad("ENTRYPOINT missing or in shell form (signals would not reach botrelay)")
	}
	return problems
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDockerfile lints deploy/Dockerfile, and shows the lint catches each
// kind of mistake.
func TestDockerfile(t *testing.T) {
	good := readFile(t, "Dockerfile")
	if p := checkDockerfile(good); len(p) > 0 {
		t.Fatalf("deploy/Dockerfile:\n%s", strings.Join(p, "\n"))
	}
	for _, c := range []struct{ name, from, to, want string }{
		{"root user", "USER 65532:65532", "USER root", "USER root is root"},
		{"no user", "USER 65532:65532\n", "", "no USER"},
		{"URL added", "COPY go.mod go.sum ./", "ADD https://example.com/x.tgz /tmp/", "ADD of a URL"},
		{"no volume", `VOLUME ["/data"]`, "", "no VOLUME /data"},
		{"no healthcheck", `HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/botrelay", "healthcheck"]`, "", "no HEALTHCHECK"},
		{"curl healthcheck", `CMD ["/usr/local/bin/botrelay", "healthcheck"]`, `CMD curl -f http://localhost:8080/healthz`, "exec form"},
		{"cgo", "CGO_ENABLED=0 go build", "go build", "without CGO_ENABLED=0"},
		{"one stage", "FROM gcr.io/distroless/static-debian12:nonroot", "", "FROM stage(s)"},
		{"latest", "golang:1.26-bookworm", "golang:latest", "pin the image's tag"},
	} {
		if !strings.Contains(good, c.from) {
			t.Fatalf("%s: the Dockerfile has no %q to change", c.name, c.from)
		}
		p := strings.Join(checkDockerfile(strings.Replace(good, c.from, c.to, 1)), "\n")
		if !strings.Contains(p, c.want) {
			t.Errorf("%s: the lint says %q, want a problem with %q", c.name, p, c.want)
		}
	}
}

// TestDockerignore: the build context leaves out local data (a data folder
// holds master.key and the database) but keeps .git, which Go needs to
// stamp the commit.
func TestDockerignore(t *testing.T) {
	var lines []string
	for _, l := range strings.Split(readFile(t, "../.dockerignore"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	for _, want := range []string{"botrelay-data/", "**/node_modules/", "*.backup"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}
	for _, l := range lines {
		if strings.Contains(l, ".git") {
			t.Errorf(".dockerignore leaves out %s: the image's botrelay version would not name its commit", l)
		}
	}
}

// unitKeys reads the [Service] section of a systemd unit as key → values.
func unitKeys(text string) map[string][]string {
	keys := map[string][]string{}
	section := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			keys[k] = append(keys[k], v)
		}
	}
	return keys
}

// TestSystemdUnit checks the unit's hardening and runs systemd-analyze
// verify on it where systemd-analyze exists: any complaint fails the test
// (verify exits 0 on unknown keys and bad values, so its output counts).
func TestSystemdUnit(t *testing.T) {
	unit := readFile(t, "botrelay.service")
	keys := unitKeys(unit)
	for k, want := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "DynamicUser": "yes", "StateDirectory": "botrelay", "CapabilityBoundingSet": "",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "MemoryDenyWriteExecute": "yes", "KillSignal": "SIGTERM",
		"Environment": "BOTRELAY_DATA=/var/lib/botrelay", "UMask": "0077",
	} {
		if v, ok := keys[k]; !ok || !slices.Contains(v, want) {
			t.Errorf("[Service] %s=%q, want %q", k, v, want)
		}
	}
	if ex := keys["ExecStart"]; len(ex) != 1 || !strings.HasPrefix(ex[0], "/usr/local/bin/botrelay serve") {
		t.Errorf("ExecStart %q", ex)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed; the unit's keys were checked, systemd-analyze verify was not run")
	}
	verify := func(text string) string {
		// verify needs ExecStart's program to exist: point it at this
		// test binary, which does.
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "botrelay.service")
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "/usr/local/bin/botrelay", self)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", path).CombinedOutput()
		if err != nil {
			return fmt.Sprintf("%v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if out := verify(unit); out != "" {
		t.Errorf("systemd-analyze verify botrelay.service:\n%s", out)
	}
	if out := verify(strings.Replace(unit, "ProtectSystem=strict", "ProtectSystem=bogus", 1)); !strings.Contains(out, "bogus") {
		t.Errorf("systemd-analyze verify did not notice a bad value: %q", out)
	}
}

// TestExampleConfig: deploy/botrelay.yaml is a valid configuration.
func TestExampleConfig(t *testing.T) {
	cfg, err := config.Load("botrelay.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "0.0.0.0:8080" || cfg.Data != "/var/lib/botrelay" || cfg.Log.Format != "auto" {
		t.Errorf("loaded %+v", cfg)
	}
}

// TestBinary builds botrelay as the Dockerfile does (CGO_ENABLED=0,
// -trimpath, stripped) and checks the result: a static executable (no
// program interpreter), whose version names the commit of this checkout,
// and whose healthcheck command exits 0 on a 200 from /healthz and 1
// otherwise.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	// With a git checkout, stamp the commit (-buildvcs=true overrides a
	// GOFLAGS=-buildvcs=false of the environment), as the image build does.
	// Go finds the repository by a .git folder, so a git worktree (whose
	// .git is a file) builds without VCS information.
	commit := ""
	vcs := "-buildvcs=false"
	if fi, err := os.Stat("../.git"); err != nil || !fi.IsDir() {
		t.Log("not a git clone (no .git folder); the version's commit is not checked")
	} else if head, err := exec.Command("git", "-C", "..", "rev-parse", "HEAD").Output(); err != nil {
		t.Logf("git rev-parse HEAD: %v; the version's commit is not checked", err)
	} else {
		commit, vcs = strings.TrimSpace(string(head)), "-buildvcs=true"
	}
	bin := filepath.Join(t.TempDir(), "botrelay")
	build := exec.Command("go", "build", "-trimpath", vcs, "-ldflags=-s -w", "-o", bin, "./cmd/botrelay")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if runtime.GOOS == "linux" {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("the binary has a program interpreter: it is not static")
			}
		}
		f.Close()
	}

	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("botrelay version: %v", err)
	}
	line := strings.TrimSpace(string(out))
	t.Logf("botrelay version: %s", line)
	if strings.Contains(line, " dev ") || !strings.HasSuffix(line, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+")") {
		t.Errorf("version %q", line)
	}
	if commit != "" {
		// Go stamps a pseudo-version from the commit as the module version.
		if !strings.HasPrefix(line, "botrelay v") || !strings.Contains(line, commit[:12]) || !strings.Contains(line, "(commit "+commit) {
			t.Errorf("version %q: want the module version and the checkout's commit %s", line, commit)
		}
	}

	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer healthy.Close()
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"unavailable","store":"unreachable"}`))
	}))
	defer sick.Close()
	run := func(env []string, args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, o.String(), e.String()
	}
	// The default URL follows BOTRELAY_ADDR, as in the image.
	addr := strings.TrimPrefix(healthy.URL, "http://")
	_, port, _ := strings.Cut(addr, ":")
	if code, o, e := run([]string{"BOTRELAY_ADDR=0.0.0.0:" + port}, "healthcheck"); code != 0 || o != "ok\n" {
		t.Errorf("healthcheck of a healthy server: exit %d, %q %q", code, o, e)
	}
	if code, _, e := run(nil, "healthcheck", "--url", sick.URL+"/healthz"); code != 1 ||
		e != "botrelay healthcheck: GET "+sick.URL+"/healthz: 503 Service Unavailable {\"status\":\"unavailable\",\"store\":\"unreachable\"}\n" {
		t.Errorf("healthcheck of an unhealthy server: exit %d, %q", code, e)
	}
	sick.Close()
	if code, _, e := run(nil, "healthcheck", "--url", sick.URL+"/healthz", "--timeout", "2s"); code != 1 ||
		!strings.HasPrefix(e, "botrelay healthcheck: GET "+sick.URL+"/healthz: ") || !strings.HasSuffix(e, "is botrelay serve running there? (set --url)\n") {
		t.Errorf("healthcheck of no server: exit %d, %q", code, e)
	}
}
