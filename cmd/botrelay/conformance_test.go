package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/botrelay/botrelay/connectors/connectortest"
)

const modulePath = "github.com/botrelay/botrelay/"

// conformance is what a connector package's tests say about their
// connectortest.Run calls: the connector types they name and the docs
// pages.
type conformance struct {
	runs  bool
	types map[string]bool
	docs  map[string]bool
}

// readConformance parses the test files of the package in dir.
func readConformance(t *testing.T, dir string) conformance {
	t.Helper()
	c := conformance{types: map[string]bool{}, docs: map[string]bool{}}
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		runs := false
		types, docs := map[string]bool{}, map[string]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Run" {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == "connectortest" {
						runs = true
					}
				}
			case *ast.CompositeLit:
				switch typ := n.Type.(type) {
				case *ast.Ident:
					types[typ.Name] = true
				case *ast.SelectorExpr:
					types[typ.Sel.Name] = true
				}
			case *ast.KeyValueExpr:
				if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Doc" {
					if lit, ok := n.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if s, err := strconv.Unquote(lit.Value); err == nil {
							docs[s] = true
						}
					}
				}
			}
			return true
		})
		if runs {
			c.runs = true
			for k := range types {
				c.types[k] = true
			}
			for k := range docs {
				c.docs[k] = true
			}
		}
	}
	return c
}

// TestEveryVendorRunsTheConformanceSuite (issue 15, acceptance 1 and 3):
// each registered vendor's package runs connectortest.Run for it, and each
// docs/vendors page lists exactly the error codes its connectors declare.
func TestEveryVendorRunsTheConformanceSuite(t *testing.T) {
	reg := newRegistry()
	pageCodes := map[string]map[string]bool{}
	pageVendors := map[string][]string{}
	for _, id := range reg.VendorIDs() {
		conn, err := reg.Vendor(id)
		if err != nil {
			t.Fatal(err)
		}
		info := conn.Info()
		typ := reflect.TypeOf(conn)
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		pkg := strings.TrimPrefix(typ.PkgPath(), modulePath)
		dir := filepath.Join("..", "..", filepath.FromSlash(pkg))
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("vendor %s: package folder %s: %v", info.ID, dir, err)
			continue
		}
		c := readConformance(t, dir)
		if !c.runs || !c.types[typ.Name()] {
			t.Errorf("vendor %s is registered but %s runs no connectortest.Run for %s: add it to the conformance suite", info.ID, pkg, typ.Name())
			continue
		}
		if len(c.docs) != 1 {
			t.Errorf("vendor %s: its conformance test names docs pages %v, want one", info.ID, c.docs)
			continue
		}
		for page := range c.docs {
			if pageCodes[page] == nil {
				pageCodes[page] = map[string]bool{}
			}
			for _, code := range info.Errors.Codes {
				pageCodes[page][code] = true
			}
			pageVendors[page] = append(pageVendors[page], info.ID)
		}
	}
	for page, want := range pageCodes {
		got, _, err := connectortest.DocCodes(page)
		if err != nil {
			t.Error(err)
			continue
		}
		var extra, missing []string
		for c := range got {
			if !want[c] {
				extra = append(extra, c)
			}
		}
		for c := range want {
			if !got[c] {
				missing = append(missing, c)
			}
		}
		sort.Strings(extra)
		sort.Strings(missing)
		if len(extra) > 0 || len(missing) > 0 {
			t.Errorf("docs/vendors/%s (vendors %v): listed but not declared %v; declared but not listed %v", page, pageVendors[page], extra, missing)
		}
	}
}
