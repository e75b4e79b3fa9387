package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// writeConfig writes content to a YAML file in a fresh temporary folder
// and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "botrelay.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkOneLine fails the test if the error message spans several lines.
func checkOneLine(t *testing.T, err error) {
	t.Helper()
	if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error message is not one line: %q", msg)
	}
}

func TestDefault(t *testing.T) {
	want := Config{
		Addr:            "127.0.0.1:8080",
		Data:            "./botrelay-data",
		Database:        "",
		Account:         "1000",
		TLS:             TLSConfig{},
		Log:             LogConfig{Level: "info", Format: "auto"},
		ShutdownTimeout: Duration(15 * time.Second),
		Login: LoginLimits{PairFailures: 5, NameFailures: 20, AddressFailures: 30, Delay: Duration(time.Second),
			MaxDelay: Duration(time.Minute), ForgetAfter: Duration(15 * time.Minute), HashWait: Duration(2 * time.Second)},
		Consumers: ConsumerLimits{TokensPerMinute: 60, ConversationsPerMinute: 30, ConversationsPerConsumer: 6,
			MessagesPerMinute: 600, MessagesPerConsumer: 60, MaxMessageBytes: 16384, UploadsPerMinute: 20},
		Cluster: ClusterConfig{LeaseTTL: Duration(2 * time.Second)},
	}
	got := Default()
	if got != want {
		t.Fatalf("Default() = %+v, want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	loaded, err := Load("", nil)
	if err != nil {
		t.Fatalf("Load(\"\", nil) = %v", err)
	}
	if loaded != want {
		t.Fatalf("Load(\"\", nil) = %+v, want %+v", loaded, want)
	}
}

func TestLoad(t *testing.T) {
	tests := map[string]struct {
		yaml string   // file content; no file when empty
		env  []string // environment
		want func(c *Config)
	}{
		"full file": {
			yaml: `
addr: 0.0.0.0:9090
data: /var/lib/botrelay
database: postgres://botrelay:secret@db:5432/botrelay?sslmode=disable
account: acme-01
tls:
  cert: /etc/botrelay/cert.pem
  key: /etc/botrelay/key.pem
log:
  level: debug
  format: text
shutdown_timeout: 1m30s
`,
			want: func(c *Config) {
				c.Addr = "0.0.0.0:9090"
				c.Data = "/var/lib/botrelay"
				c.Database = "postgres://botrelay:secret@db:5432/botrelay?sslmode=disable"
				c.Account = "acme-01"
				c.TLS = TLSConfig{Cert: "/etc/botrelay/cert.pem", Key: "/etc/botrelay/key.pem"}
				c.Log = LogConfig{Level: "debug", Format: "text"}
				c.ShutdownTimeout = Duration(90 * time.Second)
			},
		},
		"partial file keeps other defaults": {
			yaml: "log:\n  level: warn\n",
			want: func(c *Config) { c.Log.Level = "warn" },
		},
		"empty file": {
			yaml: "\n",
			want: func(*Config) {},
		},
		"comments only": {
			yaml: "# nothing here yet\n",
			want: func(*Config) {},
		},
		"null values keep defaults": {
			yaml: "addr:\nlog: ~\ntls:\n  self_signed: null\nshutdown_timeout:\n",
			want: func(*Config) {},
		},
		"numbers are read as written for string keys": {
			yaml: "account: 0042\naddr: :8081\n",
			want: func(c *Config) { c.Account = "0042"; c.Addr = ":8081" },
		},
		"quoted values": {
			yaml: "addr: \"[::1]:8080\"\ntls:\n  self_signed: \"true\"\nshutdown_timeout: '2m'\n",
			want: func(c *Config) {
				c.Addr = "[::1]:8080"
				c.TLS.SelfSigned = true
				c.ShutdownTimeout = Duration(2 * time.Minute)
			},
		},
		"aliases": {
			yaml: "data: &d /srv/botrelay\ndatabase: sqlite:/srv/botrelay/other.db\nlog: &l {level: error}\n",
			want: func(c *Config) {
				c.Data = "/srv/botrelay"
				c.Database = "sqlite:/srv/botrelay/other.db"
				c.Log.Level = "error"
			},
		},
		"env only": {
			env: []string{
				"BOTRELAY_ADDR=:9000",
				"BOTRELAY_DATA=/data",
				"BOTRELAY_DATABASE=file:/data/x.db",
				"BOTRELAY_ACCOUNT=42",
				"BOTRELAY_TLS_SELF_SIGNED=true",
				"BOTRELAY_LOG_LEVEL=error",
				"BOTRELAY_LOG_FORMAT=text",
				"BOTRELAY_SHUTDOWN_TIMEOUT=500ms",
			},
			want: func(c *Config) {
				c.Addr = ":9000"
				c.Data = "/data"
				c.Database = "file:/data/x.db"
				c.Account = "42"
				c.TLS.SelfSigned = true
				c.Log = LogConfig{Level: "error", Format: "text"}
				c.ShutdownTimeout = Duration(500 * time.Millisecond)
			},
		},
		"env wins over file": {
			yaml: "addr: 127.0.0.1:1111\nlog:\n  level: debug\n  format: text\ntls:\n  cert: c.pem\n  key: k.pem\n",
			env:  []string{"BOTRELAY_ADDR=127.0.0.1:2222", "BOTRELAY_LOG_LEVEL=warn", "BOTRELAY_TLS_KEY=other.pem"},
			want: func(c *Config) {
				c.Addr = "127.0.0.1:2222"
				c.Log = LogConfig{Level: "warn", Format: "text"}
				c.TLS = TLSConfig{Cert: "c.pem", Key: "other.pem"}
			},
		},
		"empty env value sets empty string": {
			yaml: "database: postgresql://db/botrelay\n",
			env:  []string{"BOTRELAY_DATABASE="},
			want: func(*Config) {},
		},
		"last env entry wins": {
			env:  []string{"BOTRELAY_LOG_LEVEL=debug", "BOTRELAY_LOG_LEVEL=warn"},
			want: func(c *Config) { c.Log.Level = "warn" },
		},
		"allow-listed and foreign variables are ignored": {
			env: []string{
				"BOTRELAY_MASTER_KEY=abc",
				"BOTRELAY_ADMIN_PASSWORD=hunter2",
				"BOTRELAY_TOKEN=t",
				"BOTRELAY_SERVER=https://example.test",
				"BOTRELAY_TEST_ANYTHING=1",
				"BOTRELAY_TEST_=1",
				"PATH=/usr/bin",
				"botrelay_addr=lower case is not ours",
				"BOTRELAYX=1",
				"NOEQUALSIGN",
				"=C:=C:\\",
			},
			want: func(*Config) {},
		},
		"bool spellings": {
			env:  []string{"BOTRELAY_TLS_SELF_SIGNED=1"},
			want: func(c *Config) { c.TLS.SelfSigned = true },
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := ""
			if tc.yaml != "" {
				path = writeConfig(t, tc.yaml)
			}
			got, err := Load(path, tc.env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := Default()
			tc.want(&want)
			if got != want {
				t.Fatalf("Load =\n  %+v\nwant\n  %+v", got, want)
			}
		})
	}
}

func TestLoadKeyErrors(t *testing.T) {
	tests := map[string]struct {
		yaml    string
		env     []string
		key     string   // want Error.Key
		envVar  string   // want Error.Env
		inMsg   []string // substrings of the message besides "config: "
		inFile  bool     // the message names the file
		notInMs string   // a substring the message must not contain
	}{
		"unknown top-level key": {
			yaml:   "addr: :80\nlisten: :81\n",
			key:    "listen",
			inMsg:  []string{`unknown key "listen"`, "(line 2)", "known keys are addr, data,"},
			inFile: true,
		},
		"unknown nested key": {
			yaml:   "tls:\n  selfsigned: true\n",
			key:    "tls.selfsigned",
			inMsg:  []string{`unknown key "tls.selfsigned"`, "tls.cert, tls.key, tls.self_signed"},
			inFile: true,
		},
		"unknown key in second section": {
			yaml:   "log:\n  level: info\n  colour: true\n",
			key:    "log.colour",
			inMsg:  []string{`unknown key "log.colour"`, "(line 3)"},
			inFile: true,
		},
		"key names are case sensitive": {
			yaml:   "Addr: :80\n",
			key:    "Addr",
			inMsg:  []string{`unknown key "Addr"`},
			inFile: true,
		},
		"duplicate key": {
			yaml:   "log:\n  level: info\n  level: debug\n",
			key:    "log.level",
			inMsg:  []string{`key "log.level" appears twice`, "lines 2 and 3"},
			inFile: true,
		},
		"unknown key with an anchor": {
			yaml:   "base: &b {level: info}\n",
			key:    "base",
			inFile: true,
		},
		"merge key in section": {
			yaml:   "log:\n  <<: {level: info}\n",
			key:    "log.<<",
			inMsg:  []string{"merge key"},
			inFile: true,
		},
		"list for string": {
			yaml:   "addr: [1, 2]\n",
			key:    "addr",
			inMsg:  []string{"addr in", "(line 1) must be a string, got a list"},
			inFile: true,
		},
		"scalar for section": {
			yaml:   "tls: 5\n",
			key:    "tls",
			inMsg:  []string{"tls in", "must be a section with the keys tls.cert, tls.key, tls.self_signed", `got "5"`},
			inFile: true,
		},
		"list for section": {
			yaml:   "log:\n  - level\n",
			key:    "log",
			inMsg:  []string{"must be a section", "got a list"},
			inFile: true,
		},
		"mapping for nested string": {
			yaml:   "log:\n  level: {}\n",
			key:    "log.level",
			inMsg:  []string{"log.level in", "(line 2) must be a string, got a mapping"},
			inFile: true,
		},
		"bad bool in file": {
			yaml:   "tls:\n  self_signed: maybe\n",
			key:    "tls.self_signed",
			inMsg:  []string{"must be true or false", `got "maybe"`},
			inFile: true,
		},
		"bad duration in file": {
			yaml:   "shutdown_timeout: 15\n",
			key:    "shutdown_timeout",
			inMsg:  []string{"must be a duration with a unit", `got "15"`},
			inFile: true,
		},
		"mapping for duration": {
			yaml:   "shutdown_timeout: {s: 1}\n",
			key:    "shutdown_timeout",
			inMsg:  []string{"got a mapping"},
			inFile: true,
		},
		"unknown env var": {
			env:    []string{"BOTRELAY_LISTEN=:80"},
			envVar: "BOTRELAY_LISTEN",
			inMsg:  []string{"unknown environment variable BOTRELAY_LISTEN"},
		},
		"env var for a section": {
			env:    []string{"BOTRELAY_TLS=on"},
			envVar: "BOTRELAY_TLS",
			inMsg:  []string{"BOTRELAY_TLS"},
		},
		"misspelt env var": {
			env:    []string{"BOTRELAY_TLS_SELFSIGNED=true"},
			envVar: "BOTRELAY_TLS_SELFSIGNED",
			inMsg:  []string{"BOTRELAY_TLS_SELFSIGNED"},
		},
		"bad env bool": {
			env:    []string{"BOTRELAY_TLS_SELF_SIGNED=maybe"},
			key:    "tls.self_signed",
			envVar: "BOTRELAY_TLS_SELF_SIGNED",
			inMsg:  []string{"environment variable BOTRELAY_TLS_SELF_SIGNED (key tls.self_signed) must be true or false", `got "maybe"`},
		},
		"bad env duration": {
			env:    []string{"BOTRELAY_SHUTDOWN_TIMEOUT=soon"},
			key:    "shutdown_timeout",
			envVar: "BOTRELAY_SHUTDOWN_TIMEOUT",
			inMsg:  []string{"BOTRELAY_SHUTDOWN_TIMEOUT (key shutdown_timeout) must be a duration", `got "soon"`},
		},
		"empty env bool": {
			env:    []string{"BOTRELAY_TLS_SELF_SIGNED="},
			key:    "tls.self_signed",
			envVar: "BOTRELAY_TLS_SELF_SIGNED",
			inMsg:  []string{`got ""`},
		},
		"env value with newline stays on one line": {
			env:    []string{"BOTRELAY_SHUTDOWN_TIMEOUT=1s\n2s"},
			key:    "shutdown_timeout",
			envVar: "BOTRELAY_SHUTDOWN_TIMEOUT",
			inMsg:  []string{`got "1s\n2s"`},
		},
		"env error wins over valid file": {
			yaml:  "log:\n  level: debug\n",
			env:   []string{"BOTRELAY_LOG_LEVEL=loud"},
			key:   "log.level",
			inMsg: []string{`log.level "loud" must be one of debug, info, warn, error`},
		},
		"validation after file": {
			yaml:  "tls:\n  cert: c.pem\n",
			key:   "tls.key",
			inMsg: []string{"tls.key must be set when tls.cert is set"},
		},
		"validation error does not repeat the database password": {
			env:     []string{"BOTRELAY_DATABASE=mysql://root:hunter2@db/botrelay"},
			key:     "database",
			inMsg:   []string{`database scheme "mysql:" is not supported`},
			notInMs: "hunter2",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := ""
			if tc.yaml != "" {
				path = writeConfig(t, tc.yaml)
			}
			cfg, err := Load(path, tc.env)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", cfg)
			}
			if cfg != (Config{}) {
				t.Errorf("Load returned %+v with its error, want the zero Config", cfg)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load error %q (%T) is not a *Error", err, err)
			}
			if ce.Key != tc.key {
				t.Errorf("Error.Key = %q, want %q (message %q)", ce.Key, tc.key, err)
			}
			if ce.Env != tc.envVar {
				t.Errorf("Error.Env = %q, want %q (message %q)", ce.Env, tc.envVar, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config: ") {
				t.Errorf("message %q lacks the config: prefix", msg)
			}
			if tc.key != "" && !strings.Contains(msg, tc.key) {
				t.Errorf("message %q does not name key %q", msg, tc.key)
			}
			if tc.envVar != "" && !strings.Contains(msg, tc.envVar) {
				t.Errorf("message %q does not name variable %q", msg, tc.envVar)
			}
			if tc.inFile && !strings.Contains(msg, path) {
				t.Errorf("message %q does not name file %q", msg, path)
			}
			for _, s := range tc.inMsg {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q does not contain %q", msg, s)
				}
			}
			if tc.notInMs != "" && strings.Contains(msg, tc.notInMs) {
				t.Errorf("message %q contains %q", msg, tc.notInMs)
			}
			checkOneLine(t, err)
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		path  func(t *testing.T) string
		inMsg []string
		is    error
	}{
		"missing file": {
			path:  func(*testing.T) string { return filepath.Join(dir, "missing.yaml") },
			inMsg: []string{"config: read config file", filepath.Join(dir, "missing.yaml")},
			is:    fs.ErrNotExist,
		},
		"folder instead of file": {
			path:  func(*testing.T) string { return dir },
			inMsg: []string{"config: read config file", dir},
		},
		"syntax error": {
			path:  func(t *testing.T) string { return writeConfig(t, "addr: [\n") },
			inMsg: []string{"config: parse ", "botrelay.yaml", "yaml:"},
		},
		"tab indentation": {
			path:  func(t *testing.T) string { return writeConfig(t, "log:\n\tlevel: info\n") },
			inMsg: []string{"config: parse ", "botrelay.yaml"},
		},
		"two documents": {
			path:  func(t *testing.T) string { return writeConfig(t, "addr: :80\n---\naddr: :81\n") },
			inMsg: []string{"more than one YAML document", "botrelay.yaml"},
		},
		"list at top level": {
			path:  func(t *testing.T) string { return writeConfig(t, "- addr\n") },
			inMsg: []string{"must hold a mapping of config keys", "got a list", "botrelay.yaml"},
		},
		"scalar at top level": {
			path:  func(t *testing.T) string { return writeConfig(t, "addr\n") },
			inMsg: []string{"must hold a mapping of config keys", `got "addr"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(tc.path(t), nil)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, s := range tc.inMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q does not contain %q", err, s)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%q, %v) = false", err, tc.is)
			}
			checkOneLine(t, err)
		})
	}
}

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		edit  func(c *Config)
		key   string // "" means valid
		inMsg string
	}{
		"defaults":               {edit: func(*Config) {}},
		"frame ancestors":        {edit: func(c *Config) { c.FrameAncestors = "'self' https://shop.example.com https://*.example.com:8443" }},
		"frame ancestors none":   {edit: func(c *Config) { c.FrameAncestors = "'none'" }, key: "frame_ancestors", inMsg: "origins such as"},
		"frame ancestors inject": {edit: func(c *Config) { c.FrameAncestors = "https://a.example; script-src *" }, key: "frame_ancestors"},
		"frame ancestors path":   {edit: func(c *Config) { c.FrameAncestors = "https://a.example/page" }, key: "frame_ancestors"},
		"all interfaces":         {edit: func(c *Config) { c.Addr = ":8080" }},
		"ipv6":                   {edit: func(c *Config) { c.Addr = "[::1]:443" }},
		"port 0":                 {edit: func(c *Config) { c.Addr = "localhost:0" }},
		"port 65535":             {edit: func(c *Config) { c.Addr = "localhost:65535" }},
		"addr without port":      {edit: func(c *Config) { c.Addr = "localhost" }, key: "addr", inMsg: `addr "localhost" must be host:port`},
		"addr empty":             {edit: func(c *Config) { c.Addr = "" }, key: "addr"},
		"addr empty port":        {edit: func(c *Config) { c.Addr = "localhost:" }, key: "addr"},
		"addr named port":        {edit: func(c *Config) { c.Addr = "localhost:http" }, key: "addr"},
		"addr port too big":      {edit: func(c *Config) { c.Addr = "localhost:65536" }, key: "addr", inMsg: "0 to 65535"},
		"addr negative port":     {edit: func(c *Config) { c.Addr = "localhost:-1" }, key: "addr"},
		"addr signed port":       {edit: func(c *Config) { c.Addr = "localhost:+80" }, key: "addr"},
		"addr bad ipv6":          {edit: func(c *Config) { c.Addr = "::1:80" }, key: "addr"},
		"data empty":             {edit: func(c *Config) { c.Data = "" }, key: "data", inMsg: "data must be the path of a folder"},
		"data blank":             {edit: func(c *Config) { c.Data = "  " }, key: "data"},
		"postgres":               {edit: func(c *Config) { c.Database = "postgres://u:p@h/db" }},
		"postgresql":             {edit: func(c *Config) { c.Database = "postgresql:///db?host=/run/postgresql" }},
		"sqlite path":            {edit: func(c *Config) { c.Database = "sqlite:/tmp/x.db" }},
		"file path":              {edit: func(c *Config) { c.Database = "file:relative.db" }},
		"sqlite no path":         {edit: func(c *Config) { c.Database = "sqlite:" }, key: "database", inMsg: "must name a SQLite file"},
		"file no path":           {edit: func(c *Config) { c.Database = "file:" }, key: "database"},
		"mysql":                  {edit: func(c *Config) { c.Database = "mysql://x" }, key: "database", inMsg: "postgres:// or postgresql://"},
		"bare path":              {edit: func(c *Config) { c.Database = "/tmp/x.db" }, key: "database", inMsg: "unsupported form"},
		"upper case scheme":      {edit: func(c *Config) { c.Database = "POSTGRES://h/db" }, key: "database"},
		"bad postgres url":       {edit: func(c *Config) { c.Database = "postgres://u:se%zzcret@h/db" }, key: "database", inMsg: "not a valid PostgreSQL URL"},
		"account letters":        {edit: func(c *Config) { c.Account = "Acme_Corp-2" }},
		"account 64 chars":       {edit: func(c *Config) { c.Account = strings.Repeat("a", 64) }},
		"account 65 chars":       {edit: func(c *Config) { c.Account = strings.Repeat("a", 65) }, key: "account", inMsg: "1 to 64"},
		"account empty":          {edit: func(c *Config) { c.Account = "" }, key: "account"},
		"account leading dash":   {edit: func(c *Config) { c.Account = "-x" }, key: "account"},
		"account slash":          {edit: func(c *Config) { c.Account = "a/b" }, key: "account"},
		"account trailing nl":    {edit: func(c *Config) { c.Account = "abc\n" }, key: "account"},
		"tls pair":               {edit: func(c *Config) { c.TLS = TLSConfig{Cert: "c", Key: "k"} }},
		"tls self signed":        {edit: func(c *Config) { c.TLS.SelfSigned = true }},
		"tls cert only":          {edit: func(c *Config) { c.TLS.Cert = "c" }, key: "tls.key", inMsg: "set both or neither"},
		"tls key only":           {edit: func(c *Config) { c.TLS.Key = "k" }, key: "tls.cert", inMsg: "set both or neither"},
		"tls self signed + pair": {edit: func(c *Config) { c.TLS = TLSConfig{Cert: "c", Key: "k", SelfSigned: true} }, key: "tls.self_signed", inMsg: "cannot be combined"},
		"tls self signed + key":  {edit: func(c *Config) { c.TLS = TLSConfig{Key: "k", SelfSigned: true} }, key: "tls.self_signed"},
		"log level loud":         {edit: func(c *Config) { c.Log.Level = "loud" }, key: "log.level", inMsg: `log.level "loud" must be one of debug, info, warn, error`},
		"log level upper case":   {edit: func(c *Config) { c.Log.Level = "INFO" }, key: "log.level"},
		"log level warn":         {edit: func(c *Config) { c.Log.Level = "warn" }},
		"log format xml":         {edit: func(c *Config) { c.Log.Format = "xml" }, key: "log.format", inMsg: `log.format "xml" must be one of auto, json, text`},
		"log format text":        {edit: func(c *Config) { c.Log.Format = "text" }},
		"timeout zero":           {edit: func(c *Config) { c.ShutdownTimeout = 0 }, key: "shutdown_timeout", inMsg: "shutdown_timeout 0s must be more than 0s and at most 10m"},
		"timeout negative":       {edit: func(c *Config) { c.ShutdownTimeout = Duration(-time.Second) }, key: "shutdown_timeout"},
		"timeout 10m":            {edit: func(c *Config) { c.ShutdownTimeout = Duration(10 * time.Minute) }},
		"timeout over 10m":       {edit: func(c *Config) { c.ShutdownTimeout = Duration(10*time.Minute + 1) }, key: "shutdown_timeout"},
		"timeout 1ns":            {edit: func(c *Config) { c.ShutdownTimeout = 1 }},

		"pair failures 0":       {edit: func(c *Config) { c.Login.PairFailures = 0 }, key: "login.pair_failures", inMsg: "login.pair_failures 0 must be from 1 to 1000000"},
		"name failures huge":    {edit: func(c *Config) { c.Login.NameFailures = 1_000_001 }, key: "login.name_failures"},
		"address failures 1":    {edit: func(c *Config) { c.Login.AddressFailures = 1 }},
		"delay 0":               {edit: func(c *Config) { c.Login.Delay = 0 }, key: "login.delay", inMsg: "from 1ms to 1h"},
		"max delay below delay": {edit: func(c *Config) { c.Login.Delay, c.Login.MaxDelay = Duration(time.Minute), Duration(time.Second) }, key: "login.max_delay", inMsg: "at least login.delay (1m0s)"},
		"forget after 0":        {edit: func(c *Config) { c.Login.ForgetAfter = 0 }, key: "login.forget_after"},
		"hash memory negative":  {edit: func(c *Config) { c.Login.HashMemoryMiB = -1 }, key: "login.hash_memory_mib", inMsg: "0 (automatic)"},
		"hash memory 100":       {edit: func(c *Config) { c.Login.HashMemoryMiB = 100 }},
		"hash wait 2m":          {edit: func(c *Config) { c.Login.HashWait = Duration(2 * time.Minute) }, key: "login.hash_wait"},
		"messages negative":     {edit: func(c *Config) { c.Consumers.MessagesPerMinute = -1 }, key: "consumers.messages_per_minute", inMsg: "0 (no limit) or more"},
		"consumer limits off":   {edit: func(c *Config) { c.Consumers = ConsumerLimits{} }},
		"trusted proxies":       {edit: func(c *Config) { c.TrustedProxies = "127.0.0.1, ::1 10.0.0.0/8" }},
		"trusted proxies bogus": {edit: func(c *Config) { c.TrustedProxies = "10.0.0.0/8,proxy.local" }, key: "trusted_proxies", inMsg: `"proxy.local" is not an IP address or network`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := Default()
			tc.edit(&c)
			err := c.Validate()
			if tc.key == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error about %s", tc.key)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Validate error %q (%T) is not a *Error", err, err)
			}
			if ce.Key != tc.key || ce.Env != "" {
				t.Errorf("Error{Key: %q, Env: %q}, want Key %q and no Env", ce.Key, ce.Env, tc.key)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config: "+tc.key+" ") {
				t.Errorf("message %q does not start with %q", msg, "config: "+tc.key+" ")
			}
			if !strings.Contains(msg, tc.inMsg) {
				t.Errorf("message %q does not contain %q", msg, tc.inMsg)
			}
			if strings.Contains(msg, "se%zzcret") || strings.Contains(msg, "u:p@") {
				t.Errorf("message %q repeats the database password", msg)
			}
			checkOneLine(t, err)
		})
	}
}

func TestDatabaseURL(t *testing.T) {
	tests := map[string]struct {
		data, database     string
		wantDriver, wantDS string
	}{
		"default":           {data: "./botrelay-data", wantDriver: "sqlite", wantDS: filepath.Join("botrelay-data", "botrelay.db")},
		"absolute data":     {data: "/var/lib/br", wantDriver: "sqlite", wantDS: filepath.Join("/var/lib/br", "botrelay.db")},
		"sqlite prefix":     {data: "d", database: "sqlite:/tmp/a.db", wantDriver: "sqlite", wantDS: "/tmp/a.db"},
		"file prefix":       {data: "d", database: "file:rel/a.db", wantDriver: "sqlite", wantDS: "rel/a.db"},
		"postgres":          {data: "d", database: "postgres://u:p@h:5432/db?sslmode=require", wantDriver: "postgres", wantDS: "postgres://u:p@h:5432/db?sslmode=require"},
		"postgresql":        {data: "d", database: "postgresql://h/db", wantDriver: "postgres", wantDS: "postgresql://h/db"},
		"unsupported":       {data: "d", database: "mysql://h/db"},
		"bare path unknown": {data: "d", database: "a.db"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := Default()
			c.Data, c.Database = tc.data, tc.database
			driver, dsn := c.DatabaseURL()
			if driver != tc.wantDriver || dsn != tc.wantDS {
				t.Errorf("DatabaseURL() = (%q, %q), want (%q, %q)", driver, dsn, tc.wantDriver, tc.wantDS)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	want := []KeyDoc{
		{Key: "addr", Env: "BOTRELAY_ADDR", Type: "string", Default: "127.0.0.1:8080"},
		{Key: "data", Env: "BOTRELAY_DATA", Type: "string", Default: "./botrelay-data"},
		{Key: "database", Env: "BOTRELAY_DATABASE", Type: "string", Default: ""},
		{Key: "account", Env: "BOTRELAY_ACCOUNT", Type: "string", Default: "1000"},
		{Key: "tls.cert", Env: "BOTRELAY_TLS_CERT", Type: "string", Default: ""},
		{Key: "tls.key", Env: "BOTRELAY_TLS_KEY", Type: "string", Default: ""},
		{Key: "tls.self_signed", Env: "BOTRELAY_TLS_SELF_SIGNED", Type: "bool", Default: "false"},
		{Key: "log.level", Env: "BOTRELAY_LOG_LEVEL", Type: "string", Default: "info"},
		{Key: "log.format", Env: "BOTRELAY_LOG_FORMAT", Type: "string", Default: "auto"},
		{Key: "shutdown_timeout", Env: "BOTRELAY_SHUTDOWN_TIMEOUT", Type: "duration", Default: "15s"},
		{Key: "frame_ancestors", Env: "BOTRELAY_FRAME_ANCESTORS", Type: "string", Default: ""},
		{Key: "trusted_proxies", Env: "BOTRELAY_TRUSTED_PROXIES", Type: "string", Default: ""},
		{Key: "login.pair_failures", Env: "BOTRELAY_LOGIN_PAIR_FAILURES", Type: "int", Default: "5"},
		{Key: "login.name_failures", Env: "BOTRELAY_LOGIN_NAME_FAILURES", Type: "int", Default: "20"},
		{Key: "login.address_failures", Env: "BOTRELAY_LOGIN_ADDRESS_FAILURES", Type: "int", Default: "30"},
		{Key: "login.delay", Env: "BOTRELAY_LOGIN_DELAY", Type: "duration", Default: "1s"},
		{Key: "login.max_delay", Env: "BOTRELAY_LOGIN_MAX_DELAY", Type: "duration", Default: "1m0s"},
		{Key: "login.forget_after", Env: "BOTRELAY_LOGIN_FORGET_AFTER", Type: "duration", Default: "15m0s"},
		{Key: "login.hash_memory_mib", Env: "BOTRELAY_LOGIN_HASH_MEMORY_MIB", Type: "int", Default: "0"},
		{Key: "login.hash_wait", Env: "BOTRELAY_LOGIN_HASH_WAIT", Type: "duration", Default: "2s"},
		{Key: "consumers.tokens_per_minute", Env: "BOTRELAY_CONSUMERS_TOKENS_PER_MINUTE", Type: "int", Default: "60"},
		{Key: "consumers.conversations_per_minute", Env: "BOTRELAY_CONSUMERS_CONVERSATIONS_PER_MINUTE", Type: "int", Default: "30"},
		{Key: "consumers.conversations_per_consumer", Env: "BOTRELAY_CONSUMERS_CONVERSATIONS_PER_CONSUMER", Type: "int", Default: "6"},
		{Key: "consumers.messages_per_minute", Env: "BOTRELAY_CONSUMERS_MESSAGES_PER_MINUTE", Type: "int", Default: "600"},
		{Key: "consumers.messages_per_consumer", Env: "BOTRELAY_CONSUMERS_MESSAGES_PER_CONSUMER", Type: "int", Default: "60"},
		{Key: "consumers.max_message_bytes", Env: "BOTRELAY_CONSUMERS_MAX_MESSAGE_BYTES", Type: "int", Default: "16384"},
		{Key: "consumers.uploads_per_minute", Env: "BOTRELAY_CONSUMERS_UPLOADS_PER_MINUTE", Type: "int", Default: "20"},
		{Key: "cluster.node_id", Env: "BOTRELAY_CLUSTER_NODE_ID", Type: "string", Default: ""},
		{Key: "cluster.advertise", Env: "BOTRELAY_CLUSTER_ADVERTISE", Type: "string", Default: ""},
		{Key: "cluster.lease_ttl", Env: "BOTRELAY_CLUSTER_LEASE_TTL", Type: "duration", Default: "2s"},
		{Key: "webhooks.allow_private_targets", Env: "BOTRELAY_WEBHOOKS_ALLOW_PRIVATE_TARGETS", Type: "bool", Default: "false"},
	}
	got := Keys()
	if len(got) != len(want) {
		t.Fatalf("Keys() has %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, k := range got {
		doc := k.Doc
		k.Doc = ""
		if k != want[i] {
			t.Errorf("Keys()[%d] = %+v, want %+v", i, k, want[i])
		}
		if doc == "" || strings.ContainsAny(doc, "\r\n") || !strings.HasSuffix(doc, ".") {
			t.Errorf("Keys()[%d] (%s) doc %q must be one non-empty line ending with a period", i, k.Key, doc)
		}
	}

	// Every leaf field of Config, found independently here, has an entry.
	var leaves []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			key := prefix + strings.Split(f.Tag.Get("yaml"), ",")[0]
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, key+".")
			} else {
				leaves = append(leaves, key)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	if len(leaves) != len(got) {
		t.Fatalf("Config has leaf keys %v, Keys() has %d entries", leaves, len(got))
	}
	for i, key := range leaves {
		if got[i].Key != key {
			t.Errorf("Keys()[%d].Key = %q, want %q", i, got[i].Key, key)
		}
	}

	// Setting every variable to its documented default loads Default(),
	// so the defaults are written in a form the loader reads back.
	var environ []string
	for _, k := range got {
		environ = append(environ, k.Env+"="+k.Default)
	}
	cfg, err := Load("", environ)
	if err != nil {
		t.Fatalf("Load with documented defaults: %v", err)
	}
	if cfg != Default() {
		t.Errorf("Load with documented defaults = %+v, want %+v", cfg, Default())
	}
}

func TestEveryKeyFromFileAndEnv(t *testing.T) {
	// A value for every key that differs from its default and validates.
	values := map[string]string{
		"addr":             "127.0.0.1:9999",
		"data":             "/tmp/br",
		"database":         "postgres://h/db",
		"account":          "acme",
		"tls.cert":         "c.pem",
		"tls.key":          "k.pem",
		"tls.self_signed":  "true",
		"log.level":        "debug",
		"log.format":       "text",
		"shutdown_timeout": "1m0s",
		"frame_ancestors":  "https://shop.example.com",
		"trusted_proxies":  "10.0.0.0/8,127.0.0.1",

		"login.pair_failures":    "3",
		"login.name_failures":    "50",
		"login.address_failures": "100",
		"login.delay":            "2s",
		"login.max_delay":        "10m0s",
		"login.forget_after":     "1h0m0s",
		"login.hash_memory_mib":  "100",
		"login.hash_wait":        "5s",

		"consumers.tokens_per_minute":          "10",
		"consumers.conversations_per_minute":   "0",
		"consumers.conversations_per_consumer": "2",
		"consumers.messages_per_minute":        "1000",
		"consumers.messages_per_consumer":      "30",
		"consumers.max_message_bytes":          "4096",
		"consumers.uploads_per_minute":         "5",

		"cluster.node_id":                "node-2",
		"cluster.advertise":              "http://10.0.0.5:8080",
		"cluster.lease_ttl":              "5s",
		"webhooks.allow_private_targets": "true",
	}
	for _, k := range Keys() {
		v, ok := values[k.Key]
		if !ok {
			t.Errorf("no test value for key %s", k.Key)
			continue
		}
		t.Run(k.Key, func(t *testing.T) {
			section, name, nested := strings.Cut(k.Key, ".")
			content := section + ": " + v + "\n"
			if nested {
				content = section + ":\n  " + name + ": " + v + "\n"
			}
			// Keys that only validate together with others.
			var extra []string
			switch k.Key {
			case "tls.cert":
				extra = []string{"BOTRELAY_TLS_KEY=k.pem"}
			case "tls.key":
				extra = []string{"BOTRELAY_TLS_CERT=c.pem"}
			}
			fromFile, err := Load(writeConfig(t, content), extra)
			if err != nil {
				t.Fatalf("Load file %q: %v", content, err)
			}
			fromEnv, err := Load("", append(extra, k.Env+"="+v))
			if err != nil {
				t.Fatalf("Load env %s=%s: %v", k.Env, v, err)
			}
			if fromFile != fromEnv {
				t.Errorf("file gives %+v, env gives %+v", fromFile, fromEnv)
			}
			if fromFile == Default() {
				t.Errorf("setting %s to %q left the defaults unchanged", k.Key, v)
			}
		})
	}
}

func TestNonConfigEnvIsExtensible(t *testing.T) {
	saved, savedPrefixes := NonConfigEnv, NonConfigEnvPrefixes
	t.Cleanup(func() { NonConfigEnv, NonConfigEnvPrefixes = saved, savedPrefixes })

	env := []string{"BOTRELAY_EXTRA=1", "BOTRELAY_PLUGIN_X=2"}
	if _, err := Load("", env); err == nil {
		t.Fatal("Load accepted unknown variables before they were allow-listed")
	}
	NonConfigEnv = append(NonConfigEnv[:len(NonConfigEnv):len(NonConfigEnv)], "BOTRELAY_EXTRA")
	NonConfigEnvPrefixes = append(NonConfigEnvPrefixes[:len(NonConfigEnvPrefixes):len(NonConfigEnvPrefixes)], "BOTRELAY_PLUGIN_")
	if _, err := Load("", env); err != nil {
		t.Fatalf("Load after allow-listing: %v", err)
	}
}

func TestDuration(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1h30m")); err != nil || time.Duration(d) != 90*time.Minute {
		t.Fatalf("UnmarshalText(1h30m) = %v, %v", time.Duration(d), err)
	}
	if err := d.UnmarshalText([]byte("15")); err == nil {
		t.Fatal("UnmarshalText(15) accepted a number without a unit")
	}
	if got := Duration(15 * time.Second).String(); got != "15s" {
		t.Errorf("String() = %q, want 15s", got)
	}

	// Duration also works with plain yaml decoding and encoding.
	var s struct {
		T Duration `yaml:"t"`
	}
	if err := yaml.Unmarshal([]byte("t: 2m\n"), &s); err != nil || time.Duration(s.T) != 2*time.Minute {
		t.Fatalf("yaml.Unmarshal = %v, %v", time.Duration(s.T), err)
	}
	if err := yaml.Unmarshal([]byte("t: [1]\n"), &s); err == nil {
		t.Fatal("yaml.Unmarshal accepted a list as a duration")
	}
	out, err := yaml.Marshal(s)
	if err != nil || string(out) != "t: 2m0s\n" {
		t.Fatalf("yaml.Marshal = %q, %v", out, err)
	}
}

func TestSchemaRejectsUnsupportedFields(t *testing.T) {
	type noTag struct {
		A string `doc:"x."`
	}
	type noDoc struct {
		A string `yaml:"a"`
	}
	type badType struct {
		A float64 `yaml:"a" doc:"x."`
	}
	type dupTag struct {
		A string `yaml:"a" doc:"x."`
		B string `yaml:"a" doc:"y."`
	}
	type sub struct {
		C string `yaml:"c" doc:"x."`
	}
	type envClash struct {
		AB  sub    `yaml:"a" doc:"x."`
		ABC string `yaml:"a_c" doc:"y."`
	}
	type fine struct {
		//lint:ignore U1000 an unexported field, which the walk must skip
		hidden int
		N      int32    `yaml:"n" doc:"x."`
		D      Duration `yaml:"d,omitempty" doc:"y."`
		S      sub      `yaml:"s" doc:"z."`
	}
	tests := map[string]struct {
		typ       reflect.Type
		wantPanic string
	}{
		"missing yaml tag": {typ: reflect.TypeFor[noTag](), wantPanic: "needs a yaml tag"},
		"missing doc tag":  {typ: reflect.TypeFor[noDoc](), wantPanic: "needs a doc tag"},
		"unsupported type": {typ: reflect.TypeFor[badType](), wantPanic: "unsupported type float64"},
		"duplicate tag":    {typ: reflect.TypeFor[dupTag](), wantPanic: "used twice"},
		"env clash":        {typ: reflect.TypeFor[envClash](), wantPanic: "share the environment variable BOTRELAY_A_C"},
		"supported":        {typ: reflect.TypeFor[fine]()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if tc.wantPanic == "" && r != nil {
					t.Fatalf("walk panicked: %v", r)
				}
				if tc.wantPanic != "" && !strings.Contains(msg, tc.wantPanic) {
					t.Fatalf("walk panic = %v, want one containing %q", r, tc.wantPanic)
				}
			}()
			s := &fieldSet{byEnv: map[string]*field{}}
			s.walk(tc.typ, nil, "")
			if want := []string{"BOTRELAY_N", "BOTRELAY_D", "BOTRELAY_S_C"}; tc.wantPanic == "" && len(s.leaves) != len(want) {
				t.Fatalf("walk found %d leaves, want %v", len(s.leaves), want)
			}
		})
	}
}

func TestFieldIntValues(t *testing.T) {
	type ints struct {
		Small int8 `yaml:"small" doc:"x."`
		Big   int  `yaml:"big" doc:"y."`
	}
	s := &fieldSet{byEnv: map[string]*field{}}
	s.walk(reflect.TypeFor[ints](), nil, "")
	var v ints
	rv := reflect.ValueOf(&v).Elem()
	small, big := s.byEnv["BOTRELAY_SMALL"], s.byEnv["BOTRELAY_BIG"]
	tests := map[string]struct {
		f    *field
		text string
		ok   bool
	}{
		"in range":   {f: small, text: "-128", ok: true},
		"too big":    {f: small, text: "128"},
		"not a num":  {f: big, text: "ten"},
		"float":      {f: big, text: "1.5"},
		"large":      {f: big, text: "9000000000", ok: true},
		"plus sign":  {f: big, text: "+7", ok: true},
		"underscore": {f: big, text: "1_000"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if ok := tc.f.set(rv.FieldByIndex(tc.f.index), tc.text); ok != tc.ok {
				t.Errorf("set(%q) = %v, want %v", tc.text, ok, tc.ok)
			}
		})
	}
	if got := small.expected(rv.FieldByIndex(small.index)); got != "an integer from -128 to 127" {
		t.Errorf("expected() = %q", got)
	}
	if got := small.typeName(); got != "int" {
		t.Errorf("typeName() = %q, want int", got)
	}
}
