"""Tools an agent can call. `general_tools()` is the set every role starts from; roles add their own."""

from __future__ import annotations

from alphalab.tools.base import Finished, Tool, ToolContext, ToolError, ToolResult, tool
from alphalab.tools.files import grep_file, read_file, write_file
from alphalab.tools.image import view_image
from alphalab.tools.report import report_to_user
from alphalab.tools.shell import shell_exec
from alphalab.tools.spawn import spawn_agent
from alphalab.tools.web import web_search

__all__ = [
    "Finished", "Tool", "ToolContext", "ToolError", "ToolResult", "tool", "general_tools", "report_to_user",
    "shell_exec", "read_file", "write_file", "grep_file", "view_image", "web_search", "spawn_agent",
]


def general_tools() -> list[Tool]:
    return [shell_exec, read_file, write_file, grep_file, view_image, web_search, spawn_agent]
