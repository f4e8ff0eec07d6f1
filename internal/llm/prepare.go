package llm

import (
	"encoding/json"
	"fmt"
)

// requestInfo is what the gateway learned from a guest request body.
type requestInfo struct {
	model  string
	stream bool
}

// prepareBody validates a guest body for ep and returns the bytes to forward.
//
// Two adjustments are made, both documented on Gateway:
//   - a request without "model" gets the provider's default Model;
//   - a streaming OpenAI-format request gets stream_options.include_usage =
//     true, so its tokens are always counted.
//
// The body is forwarded unchanged when neither applies.
func prepareBody(body []byte, ep endpoint, defaultModel string) ([]byte, requestInfo, error) {
	obj, err := parseObject(body)
	if err != nil {
		return nil, requestInfo{}, err
	}
	var info requestInfo
	model, hasModel, err := obj.stringField("model")
	if err != nil {
		return nil, info, err
	}
	stream, hasStream, err := obj.boolField("stream")
	if err != nil {
		return nil, info, err
	}
	if !hasStream {
		stream = ep.streamDefault
	}
	info.stream = stream
	changed := false
	if !hasModel && defaultModel != "" {
		mb, _ := json.Marshal(defaultModel) // a string always marshals
		obj.set("model", mb)
		model = defaultModel
		changed = true
	}
	info.model = model
	if ep.format == formatOpenAI && ep.usage == usageGenerate && stream {
		c, err := forceIncludeUsage(obj)
		if err != nil {
			return nil, info, err
		}
		changed = changed || c
	}
	if !changed {
		return body, info, nil
	}
	return obj.encode(), info, nil
}

// forceIncludeUsage sets stream_options.include_usage to true, keeping any
// other stream options. A client that asked for false gets true anyway: the
// only effect is one extra chunk with an empty "choices" before [DONE].
func forceIncludeUsage(obj *jsonObject) (bool, error) {
	opts := map[string]json.RawMessage{}
	if raw, ok := obj.vals["stream_options"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &opts); err != nil {
			return false, fmt.Errorf("%w: field \"stream_options\" is not an object", errBadBody)
		}
		if opts == nil { // unreachable after the null check; keeps the map usable
			opts = map[string]json.RawMessage{}
		}
	}
	if string(opts["include_usage"]) == "true" {
		return false, nil
	}
	opts["include_usage"] = json.RawMessage("true")
	b, err := json.Marshal(opts)
	if err != nil {
		return false, fmt.Errorf("%w: field \"stream_options\": %w", errBadBody, err)
	}
	obj.set("stream_options", b)
	return true, nil
}
