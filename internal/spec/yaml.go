package spec

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlNode is the tree both syntaxes are parsed into: YAML via yaml.v3's
// node API, JSON by parseJSON. Every node carries its line and column.
type yamlNode = yaml.Node

// parseYAML parses exactly one YAML document. Anchors and aliases are kept
// as alias nodes (not expanded); the decoder expands them under a budget.
func parseYAML(data []byte, probs *problems) *yamlNode {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			probs.add(0, 0, "", "empty spec: want a mapping with api_version, kind and name")
			return nil
		}
		addSyntaxError(probs, err)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		probs.add(0, 0, "", "empty spec: want a mapping with api_version, kind and name")
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		probs.add(extra.Line, extra.Column, "", "more than one YAML document: a spec is a single document")
		return nil
	case !errors.Is(err, io.EOF):
		addSyntaxError(probs, err)
		return nil
	}
	return doc.Content[0]
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlParserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner). For these, the "line N" in the error text is a 0-based line and
// a missing "line" means the first line; scanner errors are 1-based.
var yamlParserProblems = []string{
	"did not find expected", "found duplicate %", "found incompatible YAML document", "found undefined tag handle",
}

// yamlNoPosition are yaml.v3 failures that carry no position at all.
var yamlNoPosition = []string{"exceeded max depth", "unknown anchor", "anchor '", "document contains excessive"}

// addSyntaxError reports a yaml.v3 parse error. yaml.v3 gives no structured
// position for syntax errors, only a line in the text, counted differently
// by its parser and its scanner; yamlSyntaxLine undoes that.
func addSyntaxError(probs *problems, err error) {
	line, msg := yamlSyntaxLine(err.Error())
	probs.add(line, 0, "", "invalid YAML: "+msg)
}

// yamlSyntaxLine returns the 1-based line (0: unknown) and the message of a
// yaml.v3 error text.
func yamlSyntaxLine(text string) (int, string) {
	line, msg := -1, strings.TrimPrefix(text, "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(text); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	hasPrefix := func(list []string) bool {
		for _, p := range list {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	switch {
	case hasPrefix(yamlParserProblems):
		return max(line, 0) + 1, msg
	case line >= 0:
		return line, msg
	case hasPrefix(yamlNoPosition):
		return 0, msg
	}
	return 1, msg // a scanner error whose marks are both on the first line
}
