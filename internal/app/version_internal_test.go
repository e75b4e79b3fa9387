package app

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestVersionLine: the module version and the commit come from the build
// information; a version set with -ldflags wins; a binary built without
// VCS information says so instead of pretending.
func TestVersionLine(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/botrelay/botrelay", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "6191b74a0c1d2e3f40516273849a5b6c7d8e9f00"},
			{Key: "vcs.time", Value: "2026-12-05T23:58:00Z"}, {Key: "vcs.modified", Value: "false"}}}
	dirty := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261205235800-6191b74a0c1d+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "6191b74a0c1d2e3f40516273849a5b6c7d8e9f00"}, {Key: "vcs.modified", Value: "true"}}}
	bare := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	for _, c := range []struct {
		override string
		bi       *debug.BuildInfo
		want     string
	}{
		{"dev", stamped, "botrelay v1.4.0 (commit 6191b74a0c1d2e3f40516273849a5b6c7d8e9f00 of 2026-12-05T23:58:00Z, go1.26.8 " + platform + ")"},
		{"v2.0.0-rc1", stamped, "botrelay v2.0.0-rc1 (commit 6191b74a0c1d2e3f40516273849a5b6c7d8e9f00 of 2026-12-05T23:58:00Z, go1.26.8 " + platform + ")"},
		{"dev", dirty, "botrelay v0.0.0-20261205235800-6191b74a0c1d+dirty (commit 6191b74a0c1d2e3f40516273849a5b6c7d8e9f00, with uncommitted changes, go1.26.8 " + platform + ")"},
		{"dev", bare, "botrelay (devel) (commit unknown, go1.26.8 " + platform + ")"},
		{"dev", nil, "botrelay (devel) (commit unknown, " + runtime.Version() + " " + platform + ")"},
	} {
		if got := versionLine(c.override, c.bi); got != c.want {
			t.Errorf("versionLine(%q, …)\n got %s\nwant %s", c.override, got, c.want)
		}
	}
}
