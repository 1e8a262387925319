package raftpipe_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/raftpipe/raftpipe"

// layers ranks each top-level folder as DESIGN.md orders them: a package
// may import only packages of a strictly lower rank. A folder missing here
// fails the test: a new top-level folder is a design decision.
var layers = map[string]int{
	"ringbuf": 0, "timewheel": 0, "metrics": 0, // leaves: nothing of ours
	"consensus": 1, // and nothing but the standard library
	"transport": 2, "logstore": 2, "fsm": 2,
	"stages":     3,
	".":          4, // the root package, raftpipe
	"kv":         5,
	"server":     6,
	"cmd":        7,
	"benchmarks": 8,
}

// stdlibOnly lists the folders that may import the standard library alone.
var stdlibOnly = []string{"consensus"}

// topFolder returns the layer key of a package path inside the module.
func topFolder(pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	if rel == "" {
		return "."
	}
	return strings.SplitN(rel, "/", 2)[0]
}

// layerViolations returns one line per import that breaks the layering,
// given each package's imports.
func layerViolations(imports map[string][]string) []string {
	var bad []string
	for pkg, deps := range imports {
		top := topFolder(pkg)
		rank, ok := layers[top]
		if !ok {
			bad = append(bad, pkg+": top-level folder "+strconv.Quote(top)+" is not in DESIGN.md's layering (add it to layers and say why in its package doc)")
			continue
		}
		for _, dep := range deps {
			ours := dep == module || strings.HasPrefix(dep, module+"/")
			if slices.Contains(stdlibOnly, top) && (ours || strings.Contains(strings.SplitN(dep, "/", 2)[0], ".")) {
				bad = append(bad, pkg+" imports "+dep+": "+top+" may import the standard library only")
				continue
			}
			if !ours {
				continue
			}
			depTop := topFolder(dep)
			if depRank, ok := layers[depTop]; ok && depRank >= rank && depTop != top {
				bad = append(bad, pkg+" imports "+dep+": "+depTop+" is not below "+top)
			}
		}
	}
	slices.Sort(bad)
	return bad
}

// moduleImports parses every Go file of the module (all build tags) and
// returns each package's imports, counting in-package tests but not
// external test packages (package x_test), which use x as a client does.
// Nested modules are separate builds and are skipped.
func moduleImports(t *testing.T) map[string][]string {
	t.Helper()
	imports := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); p != "." && err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if strings.HasSuffix(f.Name.Name, "_test") {
			return nil
		}
		pkg := path.Join(module, filepath.ToSlash(filepath.Dir(p)))
		pkg = strings.TrimSuffix(pkg, "/.")
		for _, spec := range f.Imports {
			dep, _ := strconv.Unquote(spec.Path.Value)
			if dep != "C" {
				imports[pkg] = append(imports[pkg], dep)
			}
		}
		if _, ok := imports[pkg]; !ok {
			imports[pkg] = nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return imports
}

func TestImportsPointDownward(t *testing.T) {
	imports := moduleImports(t)
	if _, ok := imports[module+"/ringbuf"]; !ok {
		t.Fatalf("the walk found no ringbuf package: %v", imports)
	}
	for _, v := range layerViolations(imports) {
		t.Error(v)
	}
}

func TestLayerViolationsCatchesEveryRule(t *testing.T) {
	graph := map[string][]string{
		module + "/consensus":         {"fmt", module + "/ringbuf", "github.com/x/y"},
		module + "/ringbuf":           {"sync/atomic", module + "/timewheel"},
		module + "/kv":                {module, module + "/server"},
		module + "/stages":            {module + "/logstore", module + "/ringbuf", "github.com/cockroachdb/pebble"},
		module + "/logstore/wal":      {module + "/logstore", module + "/transport"},
		module + "/cmd/pipeline-node": {module + "/server", module + "/kv"},
		module + "/oddball":           {"fmt"},
	}
	want := []string{
		module + "/consensus imports " + module + "/ringbuf: consensus may import the standard library only",
		module + "/consensus imports github.com/x/y: consensus may import the standard library only",
		module + "/kv imports " + module + "/server: server is not below kv",
		module + "/logstore/wal imports " + module + "/transport: transport is not below logstore",
		module + "/oddball: top-level folder \"oddball\" is not in DESIGN.md's layering (add it to layers and say why in its package doc)",
		module + "/ringbuf imports " + module + "/timewheel: timewheel is not below ringbuf",
	}
	if got := layerViolations(graph); !slices.Equal(got, want) {
		t.Fatalf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
