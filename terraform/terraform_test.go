// Package terraform holds no Go code: its test checks the Terraform in this directory
// against the Go code it deploys. It parses the configuration with hcl/v2, evaluates
// the locals that depend only on the manifest and the variables (the manifest-driven
// function set), and compares them with the manifest package and the config struct.
package terraform

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/manifest"
)

// localOnly are configuration variables production never sets.
var localOnly = []string{"DATABASE_URL", "AUTH_DEV_KEY_FILE"}

// runtimeEnv are the Go runtime's variables Terraform sets beside the configuration.
var runtimeEnv = []string{"GOMEMLIMIT", "GOGC"}

// module is the configuration of this directory.
type module struct {
	locals    map[string]hcl.Expression
	values    map[string]cty.Value // the locals that could be evaluated
	vars      map[string]cty.Value
	resources map[string]*hclsyntax.Block // by "type.name"
}

// required gives the variables without defaults a value, as terraform.tfvars would.
var required = map[string]cty.Value{
	"project_id":  cty.StringVal("acme-ledgerline"),
	"source_zip":  cty.StringVal("../dist/ledgerline-0123456789ab.zip"),
	"auth_issuer": cty.StringVal("https://api.example.com"),
	"secret_versions": cty.ObjectVal(map[string]cty.Value{
		"webhook_secret_key": cty.StringVal("1"), "token_signing_keys": cty.StringVal("1"),
	}),
}

func load(t *testing.T) *module {
	t.Helper()
	paths, err := filepath.Glob("*.tf")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	m := &module{locals: map[string]hcl.Expression{}, values: map[string]cty.Value{}, vars: map[string]cty.Value{},
		resources: map[string]*hclsyntax.Block{}}
	parser := hclparse.NewParser()
	for _, p := range paths {
		f, diags := parser.ParseHCLFile(p)
		require.False(t, diags.HasErrors(), "%s: %s", p, diags)
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			switch b.Type {
			case "locals":
				for name, a := range b.Body.Attributes {
					require.NotContains(t, m.locals, name, "local %s defined twice", name)
					m.locals[name] = a.Expr
				}
			case "variable":
				name := b.Labels[0]
				if d, ok := b.Body.Attributes["default"]; ok {
					v, diags := d.Expr.Value(nil)
					require.False(t, diags.HasErrors(), "variable %s: %s", name, diags)
					m.vars[name] = v
				} else {
					v, ok := required[name]
					require.True(t, ok, "variable %s has no default and no test value", name)
					m.vars[name] = v
				}
			case "resource":
				m.resources[b.Labels[0]+"."+b.Labels[1]] = b
			}
		}
	}
	// Evaluate until nothing more can be: locals that reference resources never can,
	// and are checked by their syntax instead.
	for progress := true; progress; {
		progress = false
		for name, expr := range m.locals {
			if _, done := m.values[name]; done {
				continue
			}
			if v, diags := expr.Value(m.context(nil)); !diags.HasErrors() {
				m.values[name] = v
				progress = true
			}
		}
	}
	return m
}

// context is what expressions see: var, local, path.module, Terraform's functions
// that these locals use, and each (inside a for_each resource) when given.
func (m *module) context(each map[string]cty.Value) *hcl.EvalContext {
	vars := map[string]cty.Value{
		"var":   cty.ObjectVal(m.vars),
		"local": cty.ObjectVal(m.values),
		"path":  cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(".")}),
	}
	if each != nil {
		vars["each"] = cty.ObjectVal(each)
	}
	return &hcl.EvalContext{Variables: vars, Functions: functions}
}

func (m *module) local(t *testing.T, name string) cty.Value {
	t.Helper()
	v, ok := m.values[name]
	require.True(t, ok, "local.%s cannot be evaluated from the manifest and variables alone", name)
	return v
}

func (m *module) resource(t *testing.T, addr string) *hclsyntax.Block {
	t.Helper()
	b, ok := m.resources[addr]
	require.True(t, ok, "no resource %s", addr)
	return b
}

// forEach is the local a resource's for_each names ("" if it is not a plain local).
func forEach(t *testing.T, b *hclsyntax.Block) string {
	t.Helper()
	a, ok := b.Body.Attributes["for_each"]
	require.True(t, ok, "%s.%s has no for_each", b.Labels[0], b.Labels[1])
	tr, diags := hcl.AbsTraversalForExpr(a.Expr)
	if diags.HasErrors() || len(tr) != 2 || tr.RootName() != "local" {
		return ""
	}
	return tr[1].(hcl.TraverseAttr).Name
}

func keys(v cty.Value) []string {
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		out = append(out, k.AsString())
	}
	sort.Strings(out)
	return out
}

func strs(v cty.Value) []string {
	out := []string{}
	if v.IsNull() {
		return out
	}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

func TestEveryManifestFunctionIsDeployed(t *testing.T) {
	m := load(t)
	var all, http, processors, scheduled []string
	for _, f := range manifest.All() {
		all = append(all, f.Name)
		switch f.Kind {
		case manifest.HTTP:
			http = append(http, f.Name)
		case manifest.CloudEvent:
			processors = append(processors, f.Name)
			if f.Schedule != "" {
				scheduled = append(scheduled, f.Name)
			}
		}
	}
	require.Equal(t, sorted(all), keys(m.local(t, "functions")))
	require.Equal(t, sorted(http), keys(m.local(t, "http_functions")))
	require.Equal(t, sorted(processors), keys(m.local(t, "processors")))
	require.Equal(t, sorted(scheduled), keys(m.local(t, "scheduled")))

	for addr, want := range map[string]string{
		"google_cloudfunctions2_function.fn":                 "functions",
		"google_service_account.fn":                          "functions",
		"google_sql_user.fn":                                 "functions",
		"google_project_iam_member.sql_client":               "functions",
		"google_project_iam_member.sql_instance_user":        "functions",
		"google_cloud_run_service_iam_member.http_invoker":   "http_functions",
		"google_pubsub_subscription.push":                    "processors",
		"google_cloud_run_service_iam_member.pusher_invokes": "processors",
		"google_cloud_scheduler_job.timer":                   "scheduled",
	} {
		require.Equal(t, want, forEach(t, m.resource(t, addr)), "%s must be one per entry of local.%s", addr, want)
	}

	// Each function's deployment follows its manifest entry.
	fns := m.local(t, "functions")
	accounts := map[string]string{}
	dbRoles := m.resource(t, "google_sql_user.fn").Body.Attributes["database_roles"]
	require.NotNil(t, dbRoles, "the functions' database users need their roles")
	for _, f := range manifest.All() {
		v := fns.GetAttr(f.Name)
		roles, diags := dbRoles.Expr.Value(m.context(map[string]cty.Value{"key": cty.StringVal(f.Name), "value": v}))
		require.False(t, diags.HasErrors(), diags.Error())
		require.Equal(t, []string{"ledgerline_" + f.DBRole()}, strs(roles), "%s's database user", f.Name)
		require.Equal(t, f.Name != "" && f.Public(), v.GetAttr("public").True(), f.Name)
		require.Equal(t, f.DBRole(), v.GetAttr("db_role").AsString(), f.Name)
		require.Equal(t, f.Topic, v.GetAttr("topic").AsString(), f.Name)
		require.Equal(t, f.Schedule, v.GetAttr("schedule").AsString(), f.Name)
		mem, _ := v.GetAttr("memory_mib").AsBigFloat().Int64()
		require.Equal(t, int64(f.Memory()), mem, "%s memory: the manifest's default and Terraform's must agree", f.Name)
		require.Equal(t, sorted(f.Secrets), strs(v.GetAttr("secrets")), f.Name)
		account := v.GetAttr("account_id").AsString()
		require.Regexp(t, `^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$`, account, f.Name)
		require.NotContains(t, accounts, account, "%s and %s share a service account", f.Name, accounts[account])
		accounts[account] = f.Name
		require.Regexp(t, `^[a-z][-a-z0-9]{0,48}[a-z0-9]$`, v.GetAttr("service").AsString(), f.Name)
	}
}

func TestEveryPublishedTopicExistsAndMayBePublishedTo(t *testing.T) {
	m := load(t)
	topics := strs(m.local(t, "topics"))
	grants := m.local(t, "publisher_grants")
	fns := m.local(t, "functions")
	for _, f := range manifest.All() {
		if f.Kind == manifest.CloudEvent {
			require.Contains(t, topics, f.Topic, "%s's trigger topic", f.Name)
		}
		require.Equal(t, sorted(f.Topics()), strs(fns.GetAttr(f.Name).GetAttr("publishes")), f.Name)
		for _, topic := range f.Topics() {
			require.Contains(t, topics, topic, "%s publishes to %s", f.Name, topic)
			key := cty.StringVal(f.Name + "/" + topic)
			require.True(t, grants.Type().IsObjectType() && grants.Type().HasAttribute(key.AsString()),
				"%s may not publish to %s", f.Name, topic)
		}
	}
	require.Equal(t, "topics", forEach(t, m.resource(t, "google_pubsub_topic.topic")))
	pub := m.resource(t, "google_pubsub_topic_iam_member.publisher")
	require.Equal(t, "publisher_grants", forEach(t, pub))
	role, _ := pub.Body.Attributes["role"].Expr.Value(nil)
	require.Equal(t, "roles/pubsub.publisher", role.AsString())

	// Replaying a dead letter republishes to its source topic: the replay may publish to
	// every processor's topic but the dead letters' own.
	replay, ok := manifest.Lookup("AdminDeadLettersReplay")
	require.True(t, ok)
	for _, f := range manifest.All() {
		if f.Kind == manifest.CloudEvent && f.Topic != m.local(t, "dead_letter_topic").AsString() {
			require.Contains(t, replay.Topics(), f.Topic, "the dead-letter replay cannot republish to %s", f.Topic)
		}
	}
}

func TestEnvironmentMatchesTheConfigStruct(t *testing.T) {
	m := load(t)
	var fields []string
	typ := reflect.TypeOf(config.Config{})
	for i := range typ.NumField() {
		tag := typ.Field(i).Tag.Get("env")
		require.NotEmpty(t, tag, "config field %s has no env tag", typ.Field(i).Name)
		fields = append(fields, strings.TrimSpace(strings.Split(tag, ",")[0]))
	}

	common := objectKeys(t, m.locals["common_env"])
	fn := m.resource(t, "google_cloudfunctions2_function.fn")
	service := block(t, fn.Body, "service_config")
	perFunction := []string{}
	merge, ok := service.Attributes["environment_variables"].Expr.(*hclsyntax.FunctionCallExpr)
	require.True(t, ok && merge.Name == "merge", "environment_variables is a merge of the common and per-function variables")
	var gomemlimit hcl.Expression
	for _, arg := range merge.Args {
		hclsyntax.VisitAll(arg, func(n hclsyntax.Node) hcl.Diagnostics {
			if o, ok := n.(*hclsyntax.ObjectConsExpr); ok {
				for _, item := range o.Items {
					k := objectKey(t, item.KeyExpr)
					perFunction = append(perFunction, k)
					if k == "GOMEMLIMIT" {
						gomemlimit = item.ValueExpr
					}
				}
			}
			return nil
		})
	}
	secrets := keys(m.local(t, "secret_ids"))

	var set []string
	for _, k := range slices.Concat(common, perFunction, secrets) {
		require.NotContains(t, set, k, "%s is set twice", k)
		set = append(set, k)
	}
	var want []string
	for _, f := range fields {
		if !slices.Contains(localOnly, f) {
			want = append(want, f)
		}
	}
	var got []string
	for _, k := range set {
		if !slices.Contains(runtimeEnv, k) {
			got = append(got, k)
		}
	}
	require.Equal(t, sorted(want), sorted(got), "the variables Terraform sets and the config struct's fields differ")
	for _, k := range localOnly {
		require.Contains(t, fields, k)
	}

	// The runtime's memory limit is what the manifest says for every function.
	require.NotNil(t, gomemlimit)
	fns := m.local(t, "functions")
	for _, f := range manifest.All() {
		v, diags := gomemlimit.Value(m.context(map[string]cty.Value{"key": cty.StringVal(f.Name), "value": fns.GetAttr(f.Name)}))
		require.False(t, diags.HasErrors(), diags.Error())
		require.Equal(t, f.RuntimeEnv()["GOMEMLIMIT"], v.AsString(), f.Name)
		for _, s := range f.Secrets {
			require.Contains(t, secrets, s, "%s reads secret %s, which Terraform does not create", f.Name, s)
			require.Contains(t, fields, s, "%s reads secret %s, which is not a config field", f.Name, s)
		}
	}
}

func TestConnectionBudgetFitsTheDefaults(t *testing.T) {
	m := load(t)
	budget, _ := m.local(t, "connection_budget").AsBigFloat().Int64()
	db := m.vars["database"]
	maxConns, _ := db.GetAttr("max_connections").AsBigFloat().Int64()
	reserved, _ := db.GetAttr("reserved_connections").AsBigFloat().Int64()
	require.LessOrEqual(t, budget, maxConns-reserved,
		"with the default sizing the functions could open more connections than the database allows")
	require.Contains(t, blockText(t, "database.tf"), "local.connection_budget <= var.database.max_connections - var.database.reserved_connections")
}

func blockText(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func block(t *testing.T, body *hclsyntax.Body, typ string) *hclsyntax.Body {
	t.Helper()
	for _, b := range body.Blocks {
		if b.Type == typ {
			return b.Body
		}
	}
	t.Fatalf("no %s block", typ)
	return nil
}

func objectKeys(t *testing.T, expr hcl.Expression) []string {
	t.Helper()
	o, ok := expr.(*hclsyntax.ObjectConsExpr)
	require.True(t, ok, "expected an object")
	var out []string
	for _, item := range o.Items {
		out = append(out, objectKey(t, item.KeyExpr))
	}
	return out
}

func objectKey(t *testing.T, expr hcl.Expression) string {
	t.Helper()
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		// A bare word key is a traversal: its name is the key.
		name := hcl.ExprAsKeyword(expr)
		require.NotEmpty(t, name, "object key is not a constant")
		return name
	}
	return v.AsString()
}

// functions are the Terraform functions the evaluated locals use, with Terraform's
// semantics.
var functions = map[string]function.Function{
	"base64encode": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "s", Type: cty.String}}, Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(args[0].AsString()))), nil
		},
	}),
	"can":        tryfunc.CanFunc,
	"concat":     stdlib.ConcatFunc,
	"contains":   stdlib.ContainsFunc,
	"distinct":   stdlib.DistinctFunc,
	"file":       fileFunc,
	"flatten":    stdlib.FlattenFunc,
	"floor":      stdlib.FloorFunc,
	"join":       stdlib.JoinFunc,
	"jsondecode": stdlib.JSONDecodeFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
	"keys":       stdlib.KeysFunc,
	"length":     stdlib.LengthFunc,
	"lower":      stdlib.LowerFunc,
	"max":        stdlib.MaxFunc,
	"merge":      stdlib.MergeFunc,
	"replace":    replaceFunc,
	"sha256": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "s", Type: cty.String}}, Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			sum := sha256.Sum256([]byte(args[0].AsString()))
			return cty.StringVal(hex.EncodeToString(sum[:])), nil
		},
	}),
	"startswith": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "s", Type: cty.String}, {Name: "prefix", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(strings.HasPrefix(args[0].AsString(), args[1].AsString())), nil
		},
	}),
	"substr": stdlib.SubstrFunc,
	"sum": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Number)}}, Type: function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			total := cty.Zero
			for it := args[0].ElementIterator(); it.Next(); {
				_, v := it.Element()
				total = total.Add(v)
			}
			return total, nil
		},
	}),
	"toset": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType}}, Type: function.StaticReturnType(cty.Set(cty.String)),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return convert.Convert(args[0], cty.Set(cty.String))
		},
	}),
	"tostring": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType}}, Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return convert.Convert(args[0], cty.String)
		},
	}),
	"trimsuffix": stdlib.TrimSuffixFunc,
	"try":        tryfunc.TryFunc,
}

var fileFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}}, Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		b, err := os.ReadFile(args[0].AsString())
		return cty.StringVal(string(b)), err
	},
})

// replaceFunc is Terraform's replace: a substring, or a regular expression when the
// pattern is written between slashes.
var replaceFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "s", Type: cty.String}, {Name: "old", Type: cty.String}, {Name: "new", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		s, old, repl := args[0].AsString(), args[1].AsString(), args[2].AsString()
		if len(old) > 1 && strings.HasPrefix(old, "/") && strings.HasSuffix(old, "/") {
			re, err := regexp.Compile(old[1 : len(old)-1])
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(re.ReplaceAllString(s, repl)), nil
		}
		return cty.StringVal(strings.ReplaceAll(s, old, repl)), nil
	},
})
