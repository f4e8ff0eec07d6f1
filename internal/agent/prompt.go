package agent

import (
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// systemPrompt tells the model where it is, what it has and how to finish.
func systemPrompt(c Config, toolNames []string) string {
	var b strings.Builder
	b.WriteString("You are an autonomous agent running one stage of a voidbox pipeline, alone inside an isolated micro-VM. " +
		"Nobody will answer questions: make reasonable assumptions, do the task, and finish.\n\n")
	b.WriteString("# Environment\n")
	fmt.Fprintf(&b, "- Your workspace is %s; every command starts there. Relative paths in file tools are relative to it.\n", c.Workspace)
	b.WriteString("- The system is a minimal Linux with busybox tools (sh, cat, sed, awk, grep, find, …). There is no network.\n")
	fmt.Fprintf(&b, "- Your tools: %s. Tools named <server>__<tool> come from MCP servers.\n", strings.Join(toolNames, ", "))
	switch {
	case c.AllowedCommands == nil:
	case len(c.AllowedCommands) == 0:
		b.WriteString("- Policy: bash may run no programs at all, only shell builtins (echo, printf, test, read, cd, …). " +
			"Every program is denied (exit status 126); do not try to work around it. The file tools work.\n")
	default:
		fmt.Fprintf(&b, "- Policy: bash may only run these programs: %s. Anything else is denied (exit status 126); do not try to work around it.\n",
			strings.Join(c.AllowedCommands, ", "))
	}
	if len(c.Skills) > 0 {
		b.WriteString("\n# Skills\nA skill is a set of instructions for a kind of task. Before using one, read its SKILL.md with read_file and follow it.\n")
		for _, s := range c.Skills {
			fmt.Fprintf(&b, "- %s: %s (%s)\n", s.Name, oneLine(s.Description), s.Path)
		}
	}
	b.WriteString("\n# Finishing\n")
	fmt.Fprintf(&b, "When the task is done, reply with your final answer as text and no tool call. "+
		"It is saved verbatim to %s as the input of the next stage, unless you wrote that file yourself. "+
		"If the task asks for JSON, the final answer must be the JSON alone.\n", c.OutputFile)
	if s := strings.TrimSpace(c.SystemPrompt); s != "" {
		b.WriteString("\n")
		b.WriteString(s)
		b.WriteString("\n")
	}
	return b.String()
}

// userMessage is the task, with the previous stage's output inlined when it
// is small text and pointed to otherwise.
func userMessage(c Config) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(c.Prompt))
	info, err := os.Stat(c.InputFile)
	if err != nil || !info.Mode().IsRegular() {
		return b.String()
	}
	if info.Size() <= InlineInputLimit {
		data, err := os.ReadFile(c.InputFile)
		if err == nil && len(data) <= InlineInputLimit && utf8.Valid(data) {
			fmt.Fprintf(&b, "\n\nInput from the previous stage (%s):\n<input>\n%s\n</input>", c.InputFile, strings.TrimRight(string(data), "\n"))
			return b.String()
		}
	}
	fmt.Fprintf(&b, "\n\nThe previous stage's output is in %s (%d bytes, too large or not text to show here); read it with read_file or bash.",
		c.InputFile, info.Size())
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
