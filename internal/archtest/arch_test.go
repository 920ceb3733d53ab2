package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A rule limits what the packages matching pkg may import. Paths in a
// rule are relative to the module ("internal/storage") or standard
// library paths ("net/http"); a trailing "/..." takes a whole tree.
// Only production code counts: test files may import test helpers.
type rule struct {
	pkg    string
	reason string
	// optional: the package does not exist yet; the rule waits for it.
	// Without it a rule that matches nothing fails, so a rename cannot
	// silently switch a rule off.
	optional bool
	// stdOnly: only the standard library, transitively.
	stdOnly bool
	// deny: never, transitively (not through any chain of imports).
	deny []string
	// denyDirect: never as a direct import (a chain through another
	// package, itself ruled, is fine).
	denyDirect []string
	// ownOnly, when not nil: of this module's packages only these,
	// transitively.
	ownOnly []string
	// importedBy, when not nil: only these packages may import pkg
	// directly.
	importedBy []string
}

// pureDeny is what the pure packages must never reach even though it is
// in the standard library: I/O surfaces and logging belong to the callers.
var pureDeny = []string{"database/sql", "net/http", "html/template", "log/slog"}

// rules are STYLE.md rule 2: dependencies point inward.
var rules = []rule{
	{pkg: "internal/kopilka", stdOnly: true, deny: pureDeny,
		reason: "the vocabulary is pure: standard library only, no SQL, HTTP, templates or logging"},
	{pkg: "internal/ledger", stdOnly: true, deny: pureDeny,
		reason: "the ledger rules are pure functions of their inputs: standard library only, no SQL, HTTP, templates or logging"},
	{pkg: "internal/calc", optional: true, stdOnly: true, deny: pureDeny,
		reason: "the receipt arithmetic is pure: standard library only, no SQL, HTTP, templates or logging"},
	{pkg: "internal/barcode", ownOnly: []string{"internal/kopilka"}, deny: pureDeny,
		reason: "barcodes are drawn from the number alone: no storage, SQL, HTTP, templates or logging"},
	{pkg: "internal/storage", ownOnly: []string{"internal/kopilka", "internal/ledger"},
		reason: "the storage seam speaks only the vocabulary and the ledger's terms"},
	{pkg: "internal/pii", stdOnly: true, deny: []string{"database/sql", "net/http", "html/template", "log/slog"},
		reason: "the personal-data keys and ciphers are standard library crypto; the storage layer is what uses them"},
	{pkg: "internal/storage/sqldb", ownOnly: []string{"internal/kopilka", "internal/ledger", "internal/storage", "internal/pii"},
		reason: "the SQL implementation knows the seam it implements and nothing above it"},
	{pkg: "internal/storage/...", deny: []string{"net/http"},
		reason: "nothing below loyalty knows HTTP"},
	{pkg: "internal/loyalty", deny: []string{"internal/storage/sqldb", "net/http", "database/sql"},
		reason: "use cases see only storage.Tx (no concrete database, no SQL) and know no transport"},
	{pkg: "internal/api", denyDirect: []string{"internal/storage/..."}, deny: []string{"database/sql", "internal/storage/sqldb"},
		reason: "the HTTP surface calls loyalty; it never touches storage or SQL"},
	{pkg: "internal/storage/sqldb", importedBy: []string{"internal/cli", "cmd/kopilka", "internal/storage/storagetest"},
		reason: "only the wiring (cli, main) constructs the concrete database; storagetest opens it for tests"},
}

// pkg is one package of `go list -deps -json` output.
type pkg struct {
	ImportPath   string
	Name         string
	Dir          string
	Standard     bool
	DepOnly      bool
	Imports      []string
	Deps         []string
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	Module       *struct{ Path string }
}

// graph is the build graph of the module's packages.
type graph struct {
	module string
	pkgs   map[string]*pkg // every package of the graph by import path
	own    []*pkg          // the module's packages, sorted by path
}

func (g *graph) rel(importPath string) (string, bool) {
	if importPath == g.module {
		return ".", true
	}
	r, ok := strings.CutPrefix(importPath, g.module+"/")
	return r, ok
}

// abs turns a rule path into an import path: ours start with internal/ or
// cmd/, the rest are the standard library's.
func (g *graph) abs(p string) string {
	if p == "." {
		return g.module
	}
	if strings.HasPrefix(p, "internal/") || strings.HasPrefix(p, "cmd/") || p == "internal" || p == "cmd" {
		return g.module + "/" + p
	}
	return p
}

// match reports whether importPath is the rule path p or, for "x/...",
// in its tree.
func (g *graph) match(p, importPath string) bool {
	if tree, ok := strings.CutSuffix(p, "/..."); ok {
		root := g.abs(tree)
		return importPath == root || strings.HasPrefix(importPath, root+"/")
	}
	return importPath == g.abs(p)
}

func (g *graph) matchAny(ps []string, importPath string) bool {
	for _, p := range ps {
		if g.match(p, importPath) {
			return true
		}
	}
	return false
}

// chain returns the shortest import chain from one package to another,
// module-relative, for the failure message.
func (g *graph) chain(from, to string) string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for p := to; p != ""; p = prev[p] {
				path = append(path, g.short(p))
			}
			slices.Reverse(path)
			return strings.Join(path, " → ")
		}
		if p := g.pkgs[cur]; p != nil {
			for _, imp := range p.Imports {
				if _, seen := prev[imp]; !seen {
					prev[imp] = cur
					queue = append(queue, imp)
				}
			}
		}
	}
	return g.short(from) + " → … → " + g.short(to)
}

func (g *graph) short(importPath string) string {
	if r, ok := g.rel(importPath); ok {
		return r
	}
	return importPath
}

// violation is one broken rule.
type violation struct {
	Pkg    string // module-relative
	Import string // the forbidden import, module-relative when ours; "" when the rule matched nothing
	Why    string // the chain of imports and the rule's reason
}

func (v violation) String() string {
	if v.Import == "" {
		return fmt.Sprintf("rule for %s: %s", v.Pkg, v.Why)
	}
	return fmt.Sprintf("%s must not import %s: %s", v.Pkg, v.Import, v.Why)
}

// check applies rules to g and returns every violation, sorted.
func check(g *graph, rules []rule) []violation {
	var out []violation
	add := func(p *pkg, dep string, r rule) {
		out = append(out, violation{Pkg: g.short(p.ImportPath), Import: g.short(dep),
			Why: g.chain(p.ImportPath, dep) + " (" + r.reason + ")"})
	}
	for _, r := range rules {
		matched := 0
		for _, p := range g.own {
			if r.importedBy != nil {
				if !g.match(r.pkg, p.ImportPath) && !g.matchAny(r.importedBy, p.ImportPath) {
					for _, imp := range p.Imports {
						if g.match(r.pkg, imp) {
							add(p, imp, r)
						}
					}
				}
				if g.match(r.pkg, p.ImportPath) {
					matched++
				}
				continue
			}
			if !g.match(r.pkg, p.ImportPath) {
				continue
			}
			matched++
			for _, dep := range p.Deps {
				d := g.pkgs[dep]
				switch {
				case r.stdOnly && (d == nil || !d.Standard):
					add(p, dep, r)
				case g.matchAny(r.deny, dep):
					add(p, dep, r)
				case r.ownOnly != nil && !g.matchAny(r.ownOnly, dep):
					if _, ours := g.rel(dep); ours {
						add(p, dep, r)
					}
				}
			}
			for _, imp := range p.Imports {
				if g.matchAny(r.denyDirect, imp) {
					add(p, imp, r)
				}
			}
		}
		if matched == 0 && !r.optional {
			out = append(out, violation{Pkg: r.pkg, Why: "matches no package; fix the rule if the package moved"})
		}
	}
	slices.SortFunc(out, func(a, b violation) int {
		return strings.Compare(a.Pkg+"\x00"+a.Import, b.Pkg+"\x00"+b.Import)
	})
	return slices.CompactFunc(out, func(a, b violation) bool { return a.Pkg == b.Pkg && a.Import == b.Import })
}

// docProblems returns the module's packages (under internal/ and cmd/, and
// the root) whose files carry no package comment, or one that does not
// start the way godoc expects: "Package name …" ("Command name …" for a
// main package).
func docProblems(g *graph) ([]string, error) {
	var out []string
	fset := token.NewFileSet()
	for _, p := range g.own {
		rel, _ := g.rel(p.ImportPath)
		files := slices.Concat(p.GoFiles, p.CgoFiles)
		if len(files) == 0 {
			files = slices.Concat(p.TestGoFiles, p.XTestGoFiles) // a package of tests only
		}
		var doc string
		for _, name := range files {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				return nil, err
			}
			if f.Doc != nil {
				doc = f.Doc.Text()
				break
			}
		}
		var want []string
		if p.Name == "main" {
			want = []string{"Command " + filepath.Base(p.Dir) + " ", "Package main "}
		} else {
			want = []string{"Package " + p.Name + " ", "Package " + strings.TrimSuffix(p.Name, "_test") + " "}
		}
		switch {
		case doc == "":
			out = append(out, fmt.Sprintf("%s has no package comment", rel))
		case !slices.ContainsFunc(want, func(w string) bool { return strings.HasPrefix(doc, w) }):
			first, _, _ := strings.Cut(doc, "\n")
			out = append(out, fmt.Sprintf("%s: package comment %q does not start with %q", rel, first, strings.TrimSpace(want[0])))
		}
	}
	return out, nil
}

// loadModule runs `go list -deps -json ./...` at the module root once.
var loadModule = sync.OnceValues(func() (*graph, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		return nil, errors.New("not inside a module")
	}
	cmd := exec.Command("go", "list", "-deps",
		"-json=ImportPath,Name,Dir,Standard,DepOnly,Imports,Deps,GoFiles,CgoFiles,TestGoFiles,XTestGoFiles,Module",
		"./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w\n%s", err, stderr.String())
	}
	return parseList(out)
})

// parseList reads the stream of JSON objects `go list -json` prints.
func parseList(out []byte) (*graph, error) {
	g := &graph{pkgs: map[string]*pkg{}}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(pkg)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		g.pkgs[p.ImportPath] = p
		if !p.DepOnly {
			g.own = append(g.own, p)
			if p.Module != nil && g.module == "" {
				g.module = p.Module.Path
			}
		}
	}
	if g.module == "" {
		return nil, errors.New("go list named no module")
	}
	slices.SortFunc(g.own, func(a, b *pkg) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	return g, nil
}

func TestImportRules(t *testing.T) {
	t.Parallel()
	g, err := loadModule()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range check(g, rules) {
		t.Error(v)
	}
}

func TestPackageComments(t *testing.T) {
	t.Parallel()
	g, err := loadModule()
	if err != nil {
		t.Fatal(err)
	}
	probs, err := docProblems(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Error(p)
	}
}

// fakeGraph builds a graph of module example.com/m from direct imports
// (module-relative for ours); any other path is standard library.
func fakeGraph(t *testing.T, imports map[string][]string) *graph {
	t.Helper()
	const module = "example.com/m"
	g := &graph{module: module, pkgs: map[string]*pkg{}}
	var addPkg func(rel string) *pkg
	addPkg = func(path string) *pkg {
		ip := g.abs(path)
		if p := g.pkgs[ip]; p != nil {
			return p
		}
		_, ours := g.rel(ip)
		p := &pkg{ImportPath: ip, Name: filepath.Base(ip), Standard: !ours && !strings.Contains(strings.Split(ip, "/")[0], "."),
			DepOnly: !ours}
		g.pkgs[ip] = p
		deps := map[string]bool{}
		for _, imp := range imports[path] {
			d := addPkg(imp)
			p.Imports = append(p.Imports, d.ImportPath)
			deps[d.ImportPath] = true
			for _, dd := range d.Deps {
				deps[dd] = true
			}
		}
		for d := range deps {
			p.Deps = append(p.Deps, d)
		}
		slices.Sort(p.Deps)
		if ours {
			g.own = append(g.own, p)
		}
		return p
	}
	for path := range imports {
		addPkg(path)
	}
	slices.SortFunc(g.own, func(a, b *pkg) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	return g
}

// goodImports is a module that keeps every rule.
var goodImports = map[string][]string{
	"cmd/kopilka":                  {"internal/cli", "os"},
	"internal/cli":                 {"internal/server", "internal/storage/sqldb", "internal/loyalty", "log/slog"},
	"internal/server":              {"internal/api", "net/http", "github.com/prometheus/client_golang/prometheus"},
	"internal/api":                 {"internal/loyalty", "internal/kopilka", "internal/barcode", "net/http"},
	"internal/barcode":             {"internal/kopilka", "github.com/boombuler/barcode", "image/png"},
	"internal/loyalty":             {"internal/storage", "internal/ledger", "internal/kopilka", "log/slog"},
	"internal/storage":             {"internal/kopilka", "internal/ledger", "context"},
	"internal/storage/sqldb":       {"internal/storage", "internal/pii", "database/sql", "modernc.org/sqlite"},
	"internal/pii":                 {"crypto/aes", "os"},
	"internal/storage/storagetest": {"internal/storage/sqldb", "testing"},
	"internal/kopilka":             {"net/mail", "time"},
	"internal/ledger":              {"fmt"},
	"github.com/prometheus/client_golang/prometheus": {"database/sql", "net/http"},
}

// TestCheck is the negative control of TestImportRules: each broken rule
// in a fake module is reported, and a clean fake module passes.
func TestCheck(t *testing.T) {
	t.Parallel()
	type key struct{ Pkg, Import string }
	tests := []struct {
		name   string
		change map[string][]string // replaces entries of goodImports
		want   []key
	}{
		{name: "Clean"},
		{name: "VocabularyImportsHTTP", change: map[string][]string{"internal/kopilka": {"net/http"}},
			// The rule follows the chain: everything below loyalty that
			// imports the vocabulary now knows HTTP too.
			want: []key{{"internal/barcode", "net/http"}, {"internal/kopilka", "net/http"}, {"internal/loyalty", "net/http"}, {"internal/storage", "net/http"},
				{"internal/storage/sqldb", "net/http"}, {"internal/storage/storagetest", "net/http"}}},
		{name: "LedgerLogs", change: map[string][]string{"internal/ledger": {"log/slog"}},
			want: []key{{"internal/ledger", "log/slog"}}},
		{name: "LedgerNotStdOnly", change: map[string][]string{"internal/ledger": {"github.com/google/uuid"}},
			want: []key{{"internal/ledger", "github.com/google/uuid"}}},
		{name: "LedgerImportsOwnPackage", change: map[string][]string{"internal/ledger": {"internal/kopilka"}},
			want: []key{{"internal/ledger", "internal/kopilka"}}},
		{name: "CalcSQLThroughStd", change: map[string][]string{"internal/calc": {"database/sql"}},
			want: []key{{"internal/calc", "database/sql"}}},
		{name: "StorageImportsLoyalty",
			change: map[string][]string{"internal/storage": {"internal/kopilka", "internal/loyalty"},
				"internal/loyalty": {"internal/kopilka"}},
			want: []key{{"internal/storage", "internal/loyalty"}, {"internal/storage/sqldb", "internal/loyalty"}}},
		{name: "SQLImportsAPI", change: map[string][]string{"internal/storage/sqldb": {"internal/storage", "internal/api"}},
			want: []key{{"internal/storage/sqldb", "internal/api"}, {"internal/storage/sqldb", "internal/barcode"}, {"internal/storage/sqldb", "internal/loyalty"},
				{"internal/storage/sqldb", "net/http"}, {"internal/storage/storagetest", "net/http"}}},
		{name: "LoyaltyImportsSQLDB",
			change: map[string][]string{"internal/loyalty": {"internal/storage", "internal/storage/sqldb"}},
			want: []key{{"internal/api", "database/sql"}, {"internal/api", "internal/storage/sqldb"},
				{"internal/loyalty", "database/sql"}, {"internal/loyalty", "internal/storage/sqldb"}}},
		{name: "LoyaltyHTTPThroughAnotherPackage",
			change: map[string][]string{"internal/loyalty": {"internal/storage", "internal/notify"},
				"internal/notify": {"net/http"}},
			want: []key{{"internal/loyalty", "net/http"}}},
		{name: "APIImportsStorage", change: map[string][]string{"internal/api": {"internal/loyalty", "internal/storage"}},
			want: []key{{"internal/api", "internal/storage"}}},
		{name: "ServerImportsSQLDB", change: map[string][]string{"internal/server": {"internal/api", "internal/storage/sqldb"}},
			want: []key{{"internal/server", "internal/storage/sqldb"}}},
		{name: "BarcodeLogs", change: map[string][]string{"internal/barcode": {"internal/kopilka", "log/slog"}},
			want: []key{{"internal/barcode", "log/slog"}}},
		{name: "BarcodeImportsLoyalty", change: map[string][]string{"internal/barcode": {"internal/loyalty"}},
			want: []key{{"internal/barcode", "internal/ledger"}, {"internal/barcode", "internal/loyalty"}, {"internal/barcode", "internal/storage"},
				{"internal/barcode", "log/slog"}}},
		{name: "VocabularyMissing", change: map[string][]string{"internal/kopilka": nil, "internal/storage": {"context"},
			"internal/barcode": {"image/png"},
			"internal/api":     {"internal/loyalty"}, "internal/loyalty": {"internal/storage"}},
			want: []key{{"internal/kopilka", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			imports := map[string][]string{}
			for k, v := range goodImports {
				imports[k] = v
			}
			for k, v := range tt.change {
				imports[k] = v
				if v == nil {
					delete(imports, k)
				}
			}
			var got []key
			for _, v := range check(fakeGraph(t, imports), rules) {
				got = append(got, key{v.Pkg, v.Import})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("check(%s) mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

// TestDocProblems is the negative control of TestPackageComments.
func TestDocProblems(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"good/a.go":           "// Package good does things.\npackage good\n",
		"good/b.go":           "package good\n",
		"none/a.go":           "package none\n\n// Not a package comment.\nfunc F() {}\n",
		"detached/a.go":       "// Package detached is detached.\n\npackage detached\n",
		"wrongname/a.go":      "// Package other says the wrong name.\npackage wrongname\n",
		"kopilka/main.go":     "// Command kopilka runs.\npackage main\n",
		"badmain/main.go":     "// Runs things.\npackage main\n",
		"testsonly/x_test.go": "// Package testsonly_test tests.\npackage testsonly_test\n",
	}
	root := t.TempDir()
	g := &graph{module: "example.com/m", pkgs: map[string]*pkg{}}
	byDir := map[string]*pkg{}
	for name, src := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Dir(name)
		p := byDir[dir]
		if p == nil {
			p = &pkg{ImportPath: "example.com/m/" + dir, Dir: filepath.Dir(path)}
			byDir[dir] = p
			g.own = append(g.own, p)
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly)
		if err != nil {
			t.Fatal(err)
		}
		p.Name = f.Name.Name
		if strings.HasSuffix(name, "_test.go") {
			p.XTestGoFiles = append(p.XTestGoFiles, filepath.Base(name))
		} else {
			p.GoFiles = append(p.GoFiles, filepath.Base(name))
			slices.Sort(p.GoFiles)
		}
	}
	slices.SortFunc(g.own, func(a, b *pkg) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	got, err := docProblems(g)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`badmain: package comment "Runs things." does not start with "Command badmain"`,
		"detached has no package comment",
		"none has no package comment",
		`wrongname: package comment "Package other says the wrong name." does not start with "Package wrongname"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("docProblems mismatch (-want +got):\n%s", diff)
	}
}
