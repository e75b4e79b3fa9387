package structure

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// anchorRE matches a code anchor in the docs: `path/to/file.go:Func` or
// `path/to/file.go:Type.Method`, in backquotes.
var anchorRE = regexp.MustCompile("`([A-Za-z0-9_./-]+\\.go):([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)?)`")

// docsWithAnchors are the pages whose anchors must resolve.
var docsWithAnchors = []string{"docs/architecture.md", "docs/dev/connector-guide.md"}

// TestDocAnchorsResolve fails on every anchor whose file does not exist or
// has no such function or method, naming the page's line.
func TestDocAnchorsResolve(t *testing.T) {
	root := moduleRoot(t)
	funcs := map[string]map[string]bool{} // file → its function names
	for _, page := range docsWithAnchors {
		b, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			t.Errorf("%s: %v", page, err)
			continue
		}
		n := 0
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range anchorRE.FindAllStringSubmatch(line, -1) {
				n++
				file, name := m[1], m[2]
				names, ok := funcs[file]
				if !ok {
					names = declaredFuncs(t, filepath.Join(root, filepath.FromSlash(file)))
					funcs[file] = names
				}
				switch {
				case names == nil:
					t.Errorf("%s:%d: anchor %s:%s: no file %s", page, i+1, file, name, file)
				case !names[name]:
					t.Errorf("%s:%d: anchor %s:%s: %s declares no %s", page, i+1, file, name, file, name)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s has no file.go:Function anchors; the pattern or the page changed", page)
		}
	}
}

// declaredFuncs lists the functions of a Go file, methods as Type.Method;
// nil when the file cannot be read.
func declaredFuncs(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Errorf("%s: %v", path, err)
		return map[string]bool{}
	}
	names := map[string]bool{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			names[funcName(fd)] = true
		}
	}
	return names
}
