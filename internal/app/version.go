package app

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// VersionLine describes the running binary in one line: its version, the
// VCS commit it was built from and the Go toolchain, all read from the
// build information Go stamps into every binary (runtime/debug). A Version
// set with -ldflags wins over the module version.
func VersionLine() string {
	bi, _ := debug.ReadBuildInfo()
	return versionLine(Version, bi)
}

// versionLine formats bi; bi may be nil (a binary without build info).
func versionLine(override string, bi *debug.BuildInfo) string {
	version, commit, when, modified := "", "", "", false
	goVersion := runtime.Version()
	if bi != nil {
		version = bi.Main.Version
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if override != "" && override != "dev" {
		version = override
	}
	if version == "" || version == "(devel)" {
		version = "(devel)"
	}
	line := "botrelay " + version
	if commit == "" {
		line += " (commit unknown"
	} else {
		line += " (commit " + commit
		if when != "" {
			line += " of " + when
		}
		if modified {
			line += ", with uncommitted changes"
		}
	}
	return line + fmt.Sprintf(", %s %s/%s)", goVersion, runtime.GOOS, runtime.GOARCH)
}
