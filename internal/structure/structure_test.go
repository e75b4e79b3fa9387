// Package structure holds tests that keep the module's source easy to read: no production file
// over maxFileLines lines, no production function over maxFuncLines lines unless a comment
// starting "Long:" right above it says why, and every file:function anchor in
// docs/architecture.md pointing at a function that exists.
package structure

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const (
	maxFileLines = 600
	maxFuncLines = 80
)

// moduleRoot is the folder holding go.mod, two levels above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s has no go.mod: %v", root, err)
	}
	return root
}

// productionFiles lists every non-test .go file of the module, relative to root, skipping
// folders the go tool skips (testdata, node_modules, names starting with "." or "_").
func productionFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "testdata" || name == "node_modules" ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// hasLongReason reports whether the function's doc comment, or the comment group ending on the
// line right above it, has a line starting with "Long:".
func hasLongReason(fset *token.FileSet, f *ast.File, fd *ast.FuncDecl) bool {
	groups := []*ast.CommentGroup{fd.Doc}
	line := fset.Position(fd.Pos()).Line
	for _, g := range f.Comments {
		if fset.Position(g.End()).Line == line-1 {
			groups = append(groups, g)
		}
	}
	for _, g := range groups {
		if g == nil {
			continue
		}
		for _, l := range strings.Split(g.Text(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "Long:") {
				return true
			}
		}
	}
	return false
}

// TestSizes fails on every production file over maxFileLines lines and every production function
// over maxFuncLines lines without a "Long:" comment, listing each as file:line.
func TestSizes(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	var offenders []string
	for _, rel := range productionFiles(t, root) {
		f, err := parser.ParseFile(fset, filepath.Join(root, rel), nil, parser.ParseComments)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if n := fset.File(f.Pos()).LineCount(); n > maxFileLines {
			offenders = append(offenders, rel+":1: file has "+itoa(n)+" lines (limit "+itoa(maxFileLines)+"); split it by concern")
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			start, end := fset.Position(fd.Pos()).Line, fset.Position(fd.End()).Line
			if n := end - start + 1; n > maxFuncLines && !hasLongReason(fset, f, fd) {
				offenders = append(offenders, rel+":"+itoa(start)+": func "+funcName(fd)+" has "+itoa(n)+
					" lines (limit "+itoa(maxFuncLines)+"); split it or say why above it in a comment starting \"Long:\"")
			}
		}
	}
	if len(offenders) > 0 {
		t.Errorf("%d offenders:\n%s", len(offenders), strings.Join(offenders, "\n"))
	}
}

// funcName is a function's name, methods written Type.Method.
func funcName(fd *ast.FuncDecl) string {
	if recv := receiverType(fd); recv != "" {
		return recv + "." + fd.Name.Name
	}
	return fd.Name.Name
}

// receiverType is the name of a method's receiver type without pointer or type parameters, or ""
// for a plain function.
func receiverType(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return ""
	}
	e := fd.Recv.List[0].Type
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
