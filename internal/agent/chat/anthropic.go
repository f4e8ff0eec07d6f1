package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// Anthropic is a streaming Messages API client (anthropic-sdk-go).
type Anthropic struct {
	client anthropic.Client
}

// Options configure a client.
type Options struct {
	// MaxRetries is how often a request is retried after a connection error
	// or a retryable status (408, 409, 429, 5xx); 2 when zero, none when
	// negative.
	MaxRetries int
	// HTTPClient defaults to a plain http.Client (no proxy from the
	// environment matters: the endpoint is local).
	HTTPClient *http.Client
}

func (o Options) retries() int {
	switch {
	case o.MaxRetries < 0:
		return 0
	case o.MaxRetries == 0:
		return 2
	}
	return o.MaxRetries
}

func (o Options) httpClient() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	return &http.Client{}
}

// NewAnthropic returns a client for the Messages API at baseURL (the root,
// without /v1). It reads nothing from the environment.
func NewAnthropic(baseURL string, opts Options) *Anthropic {
	return &Anthropic{client: anthropic.NewClient(
		option.WithoutEnvironmentDefaults(),
		option.WithBaseURL(baseURL),
		option.WithAPIKey(PlaceholderKey),
		option.WithHTTPClient(opts.httpClient()),
		option.WithMaxRetries(opts.retries()),
	)}
}

// Send streams one model turn and returns it once complete.
func (a *Anthropic) Send(ctx context.Context, req Request) (Response, error) {
	stream := a.client.Messages.NewStreaming(ctx, anthropicParams(req))
	defer stream.Close()
	var msg anthropic.Message
	stopped := false
	for stream.Next() {
		ev := stream.Current()
		if err := msg.Accumulate(ev); err != nil {
			return Response{}, fmt.Errorf("anthropic: malformed stream: %w", err)
		}
		stopped = stopped || ev.Type == "message_stop"
	}
	if err := stream.Err(); err != nil {
		return Response{}, anthropicError(ctx, err)
	}
	if !stopped {
		return Response{}, errors.New("anthropic: malformed stream: it ended before message_stop")
	}
	res := Response{
		StopReason:   string(msg.StopReason),
		InputTokens:  msg.Usage.InputTokens + msg.Usage.CacheReadInputTokens + msg.Usage.CacheCreationInputTokens,
		OutputTokens: msg.Usage.OutputTokens,
	}
	for _, b := range msg.Content {
		switch b.Type {
		case "text":
			res.Text += b.Text
		case "tool_use":
			res.Calls = append(res.Calls, ToolCall{ID: b.ID, Name: b.Name, Input: append(json.RawMessage(nil), b.Input...)})
		}
	}
	return res, nil
}

// anthropicError turns an SDK error into a ProviderError where the provider
// answered, and otherwise names what failed.
func anthropicError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("anthropic: %w", ctx.Err())
	}
	var apiErr *anthropic.Error
	if errors.As(err, &apiErr) {
		pe := &ProviderError{Provider: "anthropic", Status: apiErr.StatusCode, Type: string(apiErr.Type()), Message: apiErr.Message}
		if pe.Message == "" {
			pe.Message = apiErr.RawJSON()
		}
		if apiErr.StatusCode/100 == 2 {
			pe.Status = 0 // an error event after a 200 stream start
		}
		return pe
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("anthropic: malformed stream: %w", err)
	}
	return fmt.Errorf("anthropic: %w", err)
}

func anthropicParams(req Request) anthropic.MessageNewParams {
	p := anthropic.MessageNewParams{
		Model:     anthropic.Model(req.Model),
		MaxTokens: int64(req.MaxTokens),
	}
	if req.System != "" {
		p.System = []anthropic.TextBlockParam{{Text: req.System}}
	}
	for _, t := range req.Tools {
		p.Tools = append(p.Tools, anthropic.ToolUnionParam{OfTool: anthropicTool(t)})
	}
	for _, m := range req.Messages {
		var blocks []anthropic.ContentBlockParamUnion
		for _, r := range m.Results {
			blocks = append(blocks, anthropic.NewToolResultBlock(r.CallID, r.Content, r.IsError))
		}
		if m.Text != "" {
			blocks = append(blocks, anthropic.NewTextBlock(m.Text))
		}
		for _, c := range m.Calls {
			blocks = append(blocks, anthropic.NewToolUseBlock(c.ID, validInput(c.Input), c.Name))
		}
		if m.Role == Assistant {
			p.Messages = append(p.Messages, anthropic.NewAssistantMessage(blocks...))
		} else {
			p.Messages = append(p.Messages, anthropic.NewUserMessage(blocks...))
		}
	}
	return p
}

// anthropicTool passes a JSON schema through: properties and required
// have fields of their own, every other keyword rides in ExtraFields.
func anthropicTool(t ToolSpec) *anthropic.ToolParam {
	var schema map[string]any
	if err := json.Unmarshal(t.Schema, &schema); err != nil || schema == nil {
		schema = map[string]any{}
	}
	in := anthropic.ToolInputSchemaParam{Properties: schema["properties"], ExtraFields: map[string]any{}}
	if req, ok := schema["required"].([]any); ok {
		for _, r := range req {
			if s, ok := r.(string); ok {
				in.Required = append(in.Required, s)
			}
		}
	}
	for k, v := range schema {
		switch k {
		case "type", "properties", "required":
		default:
			in.ExtraFields[k] = v
		}
	}
	tp := &anthropic.ToolParam{Name: t.Name, InputSchema: in}
	if t.Description != "" {
		tp.Description = anthropic.String(t.Description)
	}
	return tp
}
