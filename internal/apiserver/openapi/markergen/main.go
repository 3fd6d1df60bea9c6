// Command markergen writes zz_generated.markers.go: the facts about the
// Kubernetes API types that live only in their source comments and that
// reflection cannot see — which string types are enums (and the documented
// values of each), +optional/+required where they overrule the json tag,
// +listType, +listMapKey, +mapType, +structType, +default, +union and
// +k8s:openapi-gen=false. Descriptions are not extracted: they come at run
// time from the types' SwaggerDoc methods, except for the few struct types
// that have none (metav1.Time, resource.Quantity, intstr.IntOrString, ...).
//
// It parses the source of the module versions pinned in go.mod:
//
//	go generate ./internal/apiserver/openapi
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// packages whose types the API server may serve. Patterns that do not
// resolve (a module not in go.mod) are skipped.
var packages = []string{
	"k8s.io/api/...",
	"k8s.io/apimachinery/pkg/apis/meta/v1",
	"k8s.io/apimachinery/pkg/runtime",
	"k8s.io/apimachinery/pkg/api/resource",
	"k8s.io/apimachinery/pkg/util/intstr",
	"k8s.io/apimachinery/pkg/version",
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1",
}

func main() {
	out := flag.String("o", "zz_generated.markers.go", "output file")
	flag.Parse()
	g := &generator{types: map[string]*typeFacts{}, enumTypes: map[string]bool{}, consts: map[string][]constFact{}}
	for _, pattern := range packages {
		pkgs, err := listPackages(pattern)
		if err != nil {
			log.Printf("skipping %s: %v", pattern, err)
			continue
		}
		for _, p := range pkgs {
			if err := g.parsePackage(p.importPath, p.dir); err != nil {
				log.Fatalf("parse %s: %v", p.importPath, err)
			}
		}
	}
	g.resolveEnums()
	src, err := format.Source(g.render())
	if err != nil {
		log.Fatalf("format: %v", err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

type pkg struct{ importPath, dir string }

func listPackages(pattern string) ([]pkg, error) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Dir}}", pattern)
	cmd.Stderr = new(bytes.Buffer)
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, cmd.Stderr)
	}
	var out []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			out = append(out, pkg{f[0], f[1]})
		}
	}
	return out, nil
}

// typeFacts is what the comments say about one named type.
type typeFacts struct {
	doc        string            // only for struct types without a SwaggerDoc method
	fieldDocs  map[string]string // likewise, by JSON name
	isEnum     bool
	structType string
	unions     string
	fields     []fieldFacts
	hasSwagger bool
	isStruct   bool
}

type fieldFacts struct {
	goName      string
	optional    string // "true"/"false" where a marker overrules omitempty
	listType    string
	listMapKeys []string
	mapType     string
	structType  string
	def         string // JSON
	skip        bool
}

type constFact struct {
	name, value, comment string
}

type generator struct {
	types     map[string]*typeFacts // by "importpath.Name"
	enumTypes map[string]bool
	consts    map[string][]constFact // by enum type key
	enums     map[string][]constFact
	pending   []pendingConst
}

type pendingConst struct {
	typeKey string
	c       constFact
}

func (g *generator) parsePackage(importPath, dir string) error {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		return err
	}
	for _, p := range pkgs {
		if strings.HasSuffix(p.Name, "_test") {
			continue
		}
		// string constants of the package, to resolve +default=ref(X) and
		// constants defined from other constants.
		strConsts := map[string]string{}
		swagger := map[string]bool{}
		var files []*ast.File
		for _, name := range sortedKeys(p.Files) {
			files = append(files, p.Files[name])
		}
		for _, f := range files {
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if d.Recv != nil && d.Name.Name == "SwaggerDoc" && len(d.Recv.List) == 1 {
						swagger[receiverName(d.Recv.List[0].Type)] = true
					}
				case *ast.GenDecl:
					if d.Tok != token.CONST {
						continue
					}
					for _, s := range d.Specs {
						vs := s.(*ast.ValueSpec)
						for i, n := range vs.Names {
							if i < len(vs.Values) {
								if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
									if v, err := strconv.Unquote(lit.Value); err == nil {
										strConsts[n.Name] = v
									}
								}
							}
						}
					}
				}
			}
		}
		for _, f := range files {
			imports := map[string]string{}
			for _, im := range f.Imports {
				path, _ := strconv.Unquote(im.Path.Value)
				name := filepath.Base(path)
				if im.Name != nil {
					name = im.Name.Name
				}
				imports[name] = path
			}
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok {
					continue
				}
				for _, s := range gd.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						doc := s.Doc
						if doc == nil && gd.Lparen == token.NoPos {
							doc = gd.Doc
						}
						g.addType(importPath, s, commentLines(doc), strConsts, swagger[s.Name.Name])
					case *ast.ValueSpec:
						if gd.Tok != token.CONST || s.Type == nil {
							continue
						}
						doc := s.Doc
						if doc == nil && gd.Lparen == token.NoPos {
							doc = gd.Doc
						}
						typeKey := ""
						switch t := s.Type.(type) {
						case *ast.Ident:
							typeKey = importPath + "." + t.Name
						case *ast.SelectorExpr:
							if x, ok := t.X.(*ast.Ident); ok && imports[x.Name] != "" {
								typeKey = imports[x.Name] + "." + t.Sel.Name
							}
						}
						if typeKey == "" {
							continue
						}
						for i, n := range s.Names {
							if i >= len(s.Values) {
								continue
							}
							var v string
							switch val := s.Values[i].(type) {
							case *ast.BasicLit:
								if val.Kind != token.STRING {
									continue
								}
								v, _ = strconv.Unquote(val.Value)
							case *ast.Ident:
								var ok bool
								if v, ok = strConsts[val.Name]; !ok {
									continue
								}
							default:
								continue
							}
							g.pending = append(g.pending, pendingConst{typeKey, constFact{n.Name, v, strings.Join(commentLines(doc), " ")}})
						}
					}
				}
			}
		}
	}
	return nil
}

func receiverName(e ast.Expr) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func (g *generator) addType(importPath string, s *ast.TypeSpec, lines []string, strConsts map[string]string, hasSwagger bool) {
	key := importPath + "." + s.Name.Name
	tf := &typeFacts{hasSwagger: hasSwagger}
	tags := extractTags(lines)
	if id, ok := s.Type.(*ast.Ident); ok && id.Name == "string" && tags["enum"] != nil {
		tf.isEnum = true
		g.enumTypes[key] = true
	}
	st, ok := s.Type.(*ast.StructType)
	if ok {
		tf.isStruct = true
		if !hasSwagger {
			tf.doc = description(lines)
		}
		if v := tags["structType"]; len(v) > 0 {
			tf.structType = v[0]
		}
		union := map[string]any{}
		discriminated := map[string]string{}
		isUnion := tags["union"] != nil
		for _, f := range st.Fields.List {
			flines := commentLines(f.Doc)
			ftags := extractTags(flines)
			jsonTag, hasJSON := "", false
			if f.Tag != nil {
				raw, _ := strconv.Unquote(f.Tag.Value)
				jsonTag, hasJSON = reflect.StructTag(raw).Lookup("json")
			}
			jsonName := strings.Split(jsonTag, ",")[0]
			if !hasSwagger && len(f.Names) > 0 && jsonName != "" && jsonName != "-" {
				if d := description(flines); d != "" {
					if tf.fieldDocs == nil {
						tf.fieldDocs = map[string]string{}
					}
					tf.fieldDocs[jsonName] = d
				}
			}
			for _, n := range fieldNames(f) {
				ff := fieldFacts{goName: n}
				omitempty := strings.Contains(jsonTag+",", ",omitempty,")
				optional := omitempty
				if ftags["optional"] != nil {
					optional = true
				} else if ftags["required"] != nil {
					optional = false
				}
				if optional != omitempty {
					ff.optional = strconv.FormatBool(optional)
				}
				if v := ftags["listType"]; len(v) > 0 {
					ff.listType = v[0]
				}
				ff.listMapKeys = ftags["listMapKey"]
				if v := ftags["mapType"]; len(v) > 0 {
					ff.mapType = v[0]
				}
				if v := ftags["structType"]; len(v) > 0 {
					ff.structType = v[0]
				}
				if v := ftags["default"]; len(v) > 0 {
					ff.def = defaultJSON(v[0], strConsts)
				}
				for _, v := range ftags["k8s:openapi-gen"] {
					if v == "false" {
						ff.skip = true
					}
				}
				name := jsonName
				if !hasJSON {
					name = n
				}
				inline := len(f.Names) == 0 && hasJSON && (jsonTag == "" || strings.HasPrefix(jsonTag, ","))
				if name != "" && name != "-" && !inline && !ff.skip {
					if ftags["unionDiscriminator"] != nil {
						union["discriminator"] = name
					} else if isUnion || ftags["unionDeprecated"] != nil {
						discriminated[name] = n
					}
				}
				if ff.optional != "" || ff.listType != "" || len(ff.listMapKeys) > 0 || ff.mapType != "" ||
					ff.structType != "" || ff.def != "" || ff.skip {
					tf.fields = append(tf.fields, ff)
				}
			}
		}
		if len(discriminated) > 0 {
			union["fields-to-discriminateBy"] = discriminated
			b, _ := json.Marshal([]any{union})
			tf.unions = string(b)
		}
	}
	g.types[key] = tf
}

func fieldNames(f *ast.Field) []string {
	if len(f.Names) > 0 {
		var out []string
		for _, n := range f.Names {
			out = append(out, n.Name)
		}
		return out
	}
	t := f.Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch t := t.(type) {
	case *ast.Ident:
		return []string{t.Name}
	case *ast.SelectorExpr:
		return []string{t.Sel.Name}
	}
	return nil
}

var refRE = regexp.MustCompile(`^ref\(([^"]+)\)$`)

// defaultJSON turns a +default value into JSON: a JSON literal as written,
// or ref(Const) resolved to the constant's string value.
func defaultJSON(v string, strConsts map[string]string) string {
	if m := refRE.FindStringSubmatch(v); m != nil {
		name := m[1]
		if i := strings.LastIndex(name, "."); i >= 0 {
			name = name[i+1:]
		}
		if s, ok := strConsts[name]; ok {
			b, _ := json.Marshal(s)
			return string(b)
		}
		return ""
	}
	var x any
	if json.Unmarshal([]byte(v), &x) != nil {
		return ""
	}
	b, _ := json.Marshal(x)
	return string(b)
}

func (g *generator) resolveEnums() {
	g.enums = map[string][]constFact{}
	for _, p := range g.pending {
		if !g.enumTypes[p.typeKey] {
			continue
		}
		vals := g.enums[p.typeKey]
		found := false
		for i, e := range vals {
			if e.value == p.c.value {
				found = true
				// Several constants with one value: keep the longer comment.
				if len(e.comment) < len(p.c.comment) || (len(e.comment) == len(p.c.comment) && e.comment > p.c.comment) {
					vals[i] = p.c
				}
			}
		}
		if !found {
			vals = append(vals, p.c)
		}
		g.enums[p.typeKey] = vals
	}
}

var spaces = regexp.MustCompile(`\s+`)

// enumDoc is the documentation of one enum value: its constant's comment
// without the leading constant name, whitespace collapsed.
func enumDoc(c constFact) string {
	s := strings.TrimSpace(c.comment)
	s = strings.TrimSpace(strings.TrimPrefix(s, c.name))
	return spaces.ReplaceAllString(s, " ")
}

func (g *generator) render() []byte {
	var b bytes.Buffer
	b.WriteString("// Code generated by markergen from the comments of the Kubernetes API types. DO NOT EDIT.\n\n")
	b.WriteString("package openapi\n\n")
	b.WriteString("var generatedMarkers = map[string]*typeMarkers{\n")
	for _, key := range sortedKeys(g.types) {
		tf := g.types[key]
		vals := g.enums[key]
		if (!tf.isEnum || len(vals) == 0) && tf.structType == "" && tf.unions == "" && len(tf.fields) == 0 &&
			tf.doc == "" && len(tf.fieldDocs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%q: {\n", key)
		if tf.doc != "" {
			fmt.Fprintf(&b, "doc: %q,\n", tf.doc)
		}
		if len(tf.fieldDocs) > 0 {
			b.WriteString("fieldDocs: map[string]string{\n")
			for _, k := range sortedKeys(tf.fieldDocs) {
				fmt.Fprintf(&b, "%q: %q,\n", k, tf.fieldDocs[k])
			}
			b.WriteString("},\n")
		}
		if tf.isEnum && len(vals) > 0 {
			sort.Slice(vals, func(i, j int) bool { return strconv.Quote(vals[i].value) < strconv.Quote(vals[j].value) })
			b.WriteString("enum: []enumValue{\n")
			for _, v := range vals {
				fmt.Fprintf(&b, "{%q, %q},\n", v.value, enumDoc(v))
			}
			b.WriteString("},\n")
		}
		if tf.structType != "" {
			fmt.Fprintf(&b, "structType: %q,\n", tf.structType)
		}
		if tf.unions != "" {
			fmt.Fprintf(&b, "unions: %q,\n", tf.unions)
		}
		if len(tf.fields) > 0 {
			b.WriteString("fields: map[string]fieldMarkers{\n")
			for _, f := range tf.fields {
				fmt.Fprintf(&b, "%q: {", f.goName)
				var parts []string
				if f.optional != "" {
					parts = append(parts, "optional: opt"+map[string]string{"true": "Yes", "false": "No"}[f.optional])
				}
				if f.listType != "" {
					parts = append(parts, fmt.Sprintf("listType: %q", f.listType))
				}
				if len(f.listMapKeys) > 0 {
					parts = append(parts, fmt.Sprintf("listMapKeys: %#v", f.listMapKeys))
				}
				if f.mapType != "" {
					parts = append(parts, fmt.Sprintf("mapType: %q", f.mapType))
				}
				if f.structType != "" {
					parts = append(parts, fmt.Sprintf("structType: %q", f.structType))
				}
				if f.def != "" {
					parts = append(parts, fmt.Sprintf("defaultJSON: %q", f.def))
				}
				if f.skip {
					parts = append(parts, "skip: true")
				}
				b.WriteString(strings.Join(parts, ", "))
				b.WriteString("},\n")
			}
			b.WriteString("},\n")
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// commentLines are the lines of a doc comment without the comment markers.
func commentLines(cg *ast.CommentGroup) []string {
	if cg == nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(cg.Text(), "\n"), "\n")
}

// extractTags reads "+key=value" and "+key" lines.
func extractTags(lines []string) map[string][]string {
	out := map[string][]string{}
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "+") {
			continue
		}
		kv := strings.SplitN(l[1:], "=", 2)
		if len(kv) == 2 {
			out[kv[0]] = append(out[kv[0]], kv[1])
		} else {
			out[kv[0]] = append(out[kv[0]], "")
		}
	}
	return out
}

// description formats a doc comment the way the API documentation does:
// lines after "---" dropped, one-line TODOs and +markers dropped, empty lines
// kept as paragraph breaks, indented lines kept on lines of their own.
func description(lines []string) string {
	var b strings.Builder
	dropLast := func() {
		s := b.String()
		if len(s) > 0 {
			b.Reset()
			b.WriteString(s[:len(s)-1])
		}
	}
	for _, line := range lines {
		if line == "---" {
			break
		}
		line = strings.TrimRight(line, " ")
		leading := strings.TrimLeft(line, " ")
		switch {
		case line == "":
			dropLast()
			b.WriteString("\n\n")
		case strings.HasPrefix(leading, "TODO"), strings.HasPrefix(leading, "+"):
		case strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t"):
			dropLast()
			b.WriteString("\n" + line + "\n")
		default:
			b.WriteString(line + " ")
		}
	}
	return strings.TrimSpace(b.String())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
