package mcptools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/voidbox/voidbox/internal/agent/tools"
)

// resultLimit caps the text one MCP tool call returns to the model.
const resultLimit = 64 << 10

// tool adapts one MCP tool.
func (c *conn) tool(t *mcp.Tool) tools.Tool {
	return tools.Tool{
		Name:        ToolName(c.name, t.Name),
		Description: t.Description,
		Schema:      schema(t.InputSchema),
		Call: func(ctx context.Context, input json.RawMessage) tools.Result {
			return c.call(ctx, t.Name, input)
		},
	}
}

// ToolName is the name the model sees for tool of server: "<server>__<tool>",
// with characters the providers refuse replaced by "_", at most 64 bytes.
func ToolName(server, tool string) string {
	name := []byte(server + "__" + tool)
	for i, b := range name {
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			name[i] = '_'
		}
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return string(name)
}

// schema returns an MCP input schema as the providers want it: a JSON
// object schema ({"type":"object"} when the server gave none).
func schema(s any) json.RawMessage {
	m, ok := s.(map[string]any)
	if !ok {
		b, err := json.Marshal(s)
		if err != nil || json.Unmarshal(b, &m) != nil || m == nil {
			return json.RawMessage(`{"type":"object","properties":{}}`)
		}
	}
	if _, ok := m["type"]; !ok {
		m["type"] = "object"
	}
	b, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage(`{"type":"object","properties":{}}`)
	}
	return b
}

func (c *conn) call(ctx context.Context, name string, input json.RawMessage) tools.Result {
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	var args map[string]any
	if err := json.Unmarshal(input, &args); err != nil {
		return tools.Errorf("input is not a JSON object: %v", err)
	}
	res, err := c.session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		if ctx.Err() != nil {
			return tools.Errorf("mcp server %q: tool %q: %v", c.name, name, ctx.Err())
		}
		return tools.Errorf("%v", c.explain(fmt.Sprintf("mcp server %q: calling tool %q", c.name, name), err))
	}
	out := tools.Result{Content: render(res), IsError: res.IsError}
	if res.IsError {
		out.Error = firstLine(out.Content) // the event writer caps its length
	}
	return out
}

// render flattens a tool result to text for the model.
func render(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		switch c := c.(type) {
		case *mcp.TextContent:
			b.WriteString(c.Text)
		case *mcp.ImageContent:
			fmt.Fprintf(&b, "[image %s, %d bytes, not shown]", c.MIMEType, len(c.Data))
		case *mcp.AudioContent:
			fmt.Fprintf(&b, "[audio %s, %d bytes, not shown]", c.MIMEType, len(c.Data))
		case *mcp.ResourceLink:
			fmt.Fprintf(&b, "[resource %s]", c.URI)
		case *mcp.EmbeddedResource:
			if c.Resource != nil && c.Resource.Text != "" {
				b.WriteString(c.Resource.Text)
			} else if c.Resource != nil {
				fmt.Fprintf(&b, "[resource %s, not shown]", c.Resource.URI)
			}
		default:
			if j, err := json.Marshal(c); err == nil {
				b.Write(j)
			}
		}
	}
	if b.Len() == 0 && res.StructuredContent != nil {
		if j, err := json.Marshal(res.StructuredContent); err == nil {
			b.Write(j)
		}
	}
	if b.Len() == 0 {
		return "(no content)"
	}
	s := b.String()
	if len(s) > resultLimit {
		cut := resultLimit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + fmt.Sprintf("\n[result cut at %d bytes]", cut)
	}
	return s
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
