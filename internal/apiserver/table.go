package apiserver

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kedge-dev/kedge/internal/registry"
)

type includeObject string

const (
	includeNone     includeObject = "None"
	includeMetadata includeObject = "Metadata"
	includeFull     includeObject = "Object"
)

// defaultColumns print a kind that has no printer of its own.
var defaultColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
}

// table prints objects of res as a meta.k8s.io/v1 Table.
func (s *Server) table(res *registry.Resource, objs []runtime.Object, rv string, cont *string, include includeObject) *metav1.Table {
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}}
	t.ResourceVersion = rv
	if cont != nil {
		t.Continue = *cont
	}
	t.ColumnDefinitions = res.Columns
	if t.ColumnDefinitions == nil {
		t.ColumnDefinitions = defaultColumns
	}
	t.Rows = make([]metav1.TableRow, 0, len(objs))
	for _, obj := range objs {
		var cells []interface{}
		if res.Row != nil {
			cells = res.Row(obj)
		} else {
			m, _ := meta.Accessor(obj)
			cells = []interface{}{m.GetName(), m.GetCreationTimestamp().UTC().Format("2006-01-02T15:04:05Z")}
		}
		row := metav1.TableRow{Cells: cells}
		switch include {
		case includeFull:
			if raw, err := s.codec.encode(res, obj); err == nil {
				row.Object = runtime.RawExtension{Raw: raw}
			}
		case includeNone:
		default:
			raw, _ := json.Marshal(partial(obj))
			row.Object = runtime.RawExtension{Raw: raw}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
