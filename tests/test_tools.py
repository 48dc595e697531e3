"""General tools: workspace confinement, shell behaviour, images, web search, report."""

from __future__ import annotations

import base64
import io
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

import alphalab
import harnesses
from alphalab import harness_seal
from alphalab.board import Board
from alphalab.config import CampaignConfig, WebSearchConfig
from alphalab.playbook import Playbook
from alphalab.roles.base import RoleContext
from alphalab.roles.llm import tool_context
from alphalab.sandbox import SandboxConfig
from alphalab.tools import (
    Finished,
    ToolContext,
    ToolError,
    general_tools,
    grep_file,
    read_file,
    report_to_user,
    shell_exec,
    tool,
    view_image,
    web_search,
    write_file,
)
from alphalab.tools.adapter_tools import patch_adapter_file, read_adapter, read_reference_adapter, write_adapter_file
from alphalab.tools.board_tools import StrategistTurn, strategist_tools
from alphalab.workspace import Workspace

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
MODES = [pytest.param("none", id="none"), pytest.param("bwrap", id="bwrap", marks=needs_bwrap)]


@pytest.fixture
def ctx(tmp_path) -> ToolContext:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ToolContext(workspace=ws, shell_timeout_s=20, output_chars=2000)


def call(t, ctx, **args):
    return t(ctx, json.dumps(args))


def test_general_tools_have_schemas_from_their_signatures():
    specs = {t.name: t.spec for t in general_tools()}
    assert set(specs) == {"shell_exec", "read_file", "write_file", "grep_file", "view_image", "web_search",
                          "spawn_agent"}
    assert specs["write_file"].parameters["required"] == ["path", "content"]
    assert specs["write_file"].parameters["properties"]["append"]["type"] == "boolean"
    assert specs["shell_exec"].parameters["additionalProperties"] is False
    assert report_to_user.terminal and not any(t.terminal for t in general_tools())


def test_parameter_descriptions_come_from_the_args_block():
    spec = write_file.spec
    assert spec.description == "Write (or append to) a text file in the workspace, creating parent folders."
    assert "end of the file" in spec.parameters["properties"]["append"]["description"]
    shell = shell_exec.spec
    assert "Args:" not in shell.description and "timeout_s" not in shell.description
    # a continuation line joins the text of its parameter
    assert shell.parameters["properties"]["timeout_s"]["description"].endswith("never extend, the default timeout.")


def test_the_description_keeps_what_follows_the_args_block():
    @tool
    def probe(ctx: ToolContext, path: str, depth: int = 1) -> str:
        """Probe a path.

        Args:
            path: where to look,
                relative to the workspace.

            depth: how deep to go.

        Returns what it found.
        """
        return path

    props = probe.spec.parameters["properties"]
    assert probe.description == "Probe a path.\n\nReturns what it found."
    assert props["path"]["description"] == "where to look, relative to the workspace."
    assert props["depth"]["description"] == "how deep to go." and props["depth"]["default"] == 1


def test_a_misspelled_args_name_fails_when_the_tool_is_defined():
    with pytest.raises(ValueError, match="'pth', which is not a parameter"):
        @tool
        def probe(ctx: ToolContext, path: str) -> str:
            """Probe a path.

            Args:
                pth: where to look.
            """
            return path

    with pytest.raises(ValueError, match="cannot read the Args line"):
        @tool
        def probe2(ctx: ToolContext, path: str) -> str:
            """Probe a path.

            Args:
                path - where to look.
            """
            return path


def _strategist_tools(root: Path, turn: StrategistTurn) -> tuple[Board, dict]:
    board = Board(root / "board.sqlite")
    tools = strategist_tools(board, Playbook(root / "playbook.md", 6000), turn, None, lambda seq: 1000 + seq)
    return board, {t.name: t for t in tools}


def test_every_tool_documents_every_parameter(tmp_path):
    _, board_tools = _strategist_tools(tmp_path, StrategistTurn(proposals_wanted=1))
    tools = [*general_tools(), report_to_user, read_adapter, patch_adapter_file, write_adapter_file,
             read_reference_adapter, *board_tools.values()]
    for t in tools:
        assert "Args:" not in t.description, t.name
        props = t.spec.parameters.get("properties", {})
        assert all(p.get("description") for p in props.values()), t.name


def test_strategist_tools_act_on_the_board_and_turn_they_were_built_for(tmp_path, ctx):
    turn_a, turn_b = StrategistTurn(proposals_wanted=1), StrategistTurn(proposals_wanted=1)
    board_a, a = _strategist_tools(tmp_path / "a", turn_a)
    board_b, b = _strategist_tools(tmp_path / "b", turn_b)
    assert call(a["propose_experiment"], ctx, name="wider", hypothesis="h", spec={"width": 2}).text == \
        "proposed e001-wider"
    assert [e.id for e in board_a.select()] == ["e001-wider"] and board_a.get("e001-wider").seed == 1001
    assert board_b.select() == [] and turn_a.proposed == ["e001-wider"] and turn_b.proposed == []
    assert "e001-wider" in call(a["read_board"], ctx).text
    assert call(b["read_board"], ctx).text == "the board is empty"
    with pytest.raises(ToolError, match="at most 1"):
        call(a["propose_experiment"], ctx, name="again", hypothesis="h", spec={})
    call(b["update_playbook"], ctx, content="- deeper is better", heading="Lessons")
    assert turn_b.playbook_updated and not turn_a.playbook_updated
    assert "deeper is better" in (tmp_path / "b" / "playbook.md").read_text()
    assert not (tmp_path / "a" / "playbook.md").exists()
    call(a["cancel_experiment"], ctx, exp_id="e001-wider", reason="changed my mind")
    assert turn_a.cancelled == ["e001-wider"] and board_a.get("e001-wider").state == "cancelled"

def test_write_then_read_and_grep_inside_the_workspace(ctx):
    call(write_file, ctx, path="src/a.py", content="import os\nx = 1\ny = 2\n")
    call(write_file, ctx, path="src/a.py", content="x = 3\n", append=True)
    text = call(read_file, ctx, path="src/a.py", start_line=2, max_lines=2).text
    assert "x = 1" in text and "y = 2" in text and "import os" not in text and "[lines 2-3 of 4]" in text
    hits = call(grep_file, ctx, pattern=r"^x = \d", glob="*.py").text.splitlines()
    assert hits == ["src/a.py:2: x = 1", "src/a.py:4: x = 3"]
    assert "no match" in call(grep_file, ctx, pattern="zzz").text


@pytest.mark.parametrize("tool_, args", [
    (read_file, {"path": "../secret.txt"}),
    (read_file, {"path": "/etc/passwd"}),
    (write_file, {"path": "../escape.txt", "content": "x"}),
    (write_file, {"path": "sub/../../escape.txt", "content": "x"}),
    (grep_file, {"pattern": "s", "path": ".."}),
])
def test_file_tools_refuse_paths_outside_the_workspace(ctx, tool_, args):
    (ctx.workspace.parent / "secret.txt").write_text("s3cret")
    with pytest.raises(ToolError, match="outside the workspace"):
        call(tool_, ctx, **args)
    assert not (ctx.workspace.parent / "escape.txt").exists()


def test_file_tools_refuse_symlinks_pointing_outside(ctx):
    outside = ctx.workspace.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s3cret")
    (ctx.workspace / "link").symlink_to(outside)
    (ctx.workspace / "file_link").symlink_to(outside / "secret.txt")
    (ctx.workspace / "dangling").symlink_to(outside / "new.txt")
    with pytest.raises(ToolError, match="outside"):
        call(read_file, ctx, path="link/secret.txt")
    with pytest.raises(ToolError, match="outside"):
        call(read_file, ctx, path="file_link")
    with pytest.raises(ToolError, match="outside"):
        call(write_file, ctx, path="dangling", content="x")
    assert not (outside / "new.txt").exists()
    # a recursive grep does not follow links out of the workspace either
    assert call(grep_file, ctx, pattern="s3cret").text.startswith("no match")


def test_symlinks_inside_the_workspace_are_fine(ctx):
    (ctx.workspace / "real.txt").write_text("hello")
    (ctx.workspace / "alias.txt").symlink_to(ctx.workspace / "real.txt")
    assert "hello" in call(read_file, ctx, path="alias.txt").text


def test_shell_runs_in_the_workspace_without_secrets(ctx, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-parent")
    out = call(shell_exec, ctx, command="pwd; echo ${ANTHROPIC_API_KEY:-unset}; exit 4").text
    assert out.startswith("exit code 4")
    assert str(ctx.workspace) in out and "unset" in out and "sk-ant-parent" not in out


def test_shell_truncation_keeps_head_and_tail_with_a_note(ctx):
    out = call(shell_exec, ctx, command="echo HEAD; seq 1 50000; echo TAIL").text
    assert "HEAD" in out and out.rstrip().endswith("TAIL") and "characters truncated" in out
    assert len(out) < 2300


def test_shell_timeout_is_reported(ctx):
    ctx.shell_timeout_s = 1
    out = call(shell_exec, ctx, command="echo begun; sleep 30", timeout_s=100).text
    assert out.startswith("timed out after 1 s") and "begun" in out


def _role(tmp_path: Path, mode: str) -> RoleContext:
    """A role of a campaign whose data lies outside its workspace, under tmp_path: under /tmp, which bwrap makes
    private."""
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    (data / "train" / "series.csv").write_text("t,y\n0,1\n")
    ws = Workspace(tmp_path / "ws")
    ws.private.mkdir(parents=True)
    (ws.private / "targets.txt").write_text("the held-out targets")
    config = CampaignConfig(name="c", domain="d", data_path=data, objective="o", workspace=ws.root,
                            sandbox=SandboxConfig(mode=mode))
    return RoleContext(config, ws, log=lambda line: None, phase="phase3")


@pytest.mark.parametrize("mode", MODES)
def test_an_agents_shell_reads_the_campaigns_data_but_not_private(tmp_path, mode):
    ctx = tool_context(_role(tmp_path, mode))
    data = tmp_path / "data"
    out = call(shell_exec, ctx, command=f"find {data} -type f; cat .private/targets.txt; touch {data}/forged").text
    assert str(data / "train" / "series.csv") in out, out
    if mode == "bwrap":
        assert "the held-out targets" not in out and "Read-only file system" in out, out
        assert not (data / "forged").exists()


@pytest.mark.parametrize("mode", MODES)
def test_an_agent_runs_the_sealed_workspace_harness_as_a_manifest_writes_it(tmp_path, mode):
    role = _role(tmp_path, mode)
    ws = role.workspace
    ws.harness.mkdir()
    (ws.harness / "__init__.py").write_text("")
    (ws.harness / "evaluate.py").write_text("import sys\nimport harness\n\nprint(harness.__file__, *sys.argv[1:])\n")
    ws.adapter.mkdir()
    (ws.adapter / "manifest.yaml").write_text("name: d\n")
    harness_seal.seal(ws)
    command = "python -P -m harness.evaluate --experiment experiments/e1 --mode smoke"
    out = call(shell_exec, tool_context(role), command=command).text
    assert out.startswith("exit code 0") and f"{ws.harness / '__init__.py'} --experiment" in out, out
    assert harness_seal.changes(ws) == []


@pytest.mark.parametrize("mode", MODES)
def test_an_agents_python_imports_this_project(tmp_path, mode):
    """What the built-in domains' commands (`python -P -m harnesses.<domain>.evaluate`) need, from the workspace."""
    out = call(shell_exec, tool_context(_role(tmp_path, mode)),
               command='python -P -c "import alphalab, harnesses; print(alphalab.__file__, harnesses.__file__)"').text
    assert out.startswith("exit code 0") and f"{alphalab.__file__} {harnesses.__file__}" in out, out


def _png(path: Path, size=(40, 30)) -> Path:
    Image.new("RGB", size, (200, 10, 10)).save(path)
    return path


def test_view_image_attaches_the_image_for_models_that_see(ctx):
    _png(ctx.workspace / "plot.png")
    ctx.agent = SimpleNamespace(model=SimpleNamespace(supports_images=True))
    res = call(view_image, ctx, path="plot.png")
    assert len(res.images) == 1 and res.images[0].media_type == "image/png" and "40x30" in res.text


def test_view_image_downscales_big_images(ctx):
    _png(ctx.workspace / "big.png", size=(4000, 1000))
    ctx.agent = SimpleNamespace(model=SimpleNamespace(supports_images=True))
    res = call(view_image, ctx, path="big.png")
    with Image.open(io.BytesIO(base64.b64decode(res.images[0].data_b64))) as img:
        assert max(img.size) == 1568


def test_view_image_falls_back_to_text_for_text_only_models(ctx):
    _png(ctx.workspace / "plot.png")
    ctx.agent = SimpleNamespace(model=SimpleNamespace(supports_images=False))
    res = call(view_image, ctx, path="plot.png")
    assert res.images == [] and "cannot view images" in res.text and "40x30" in res.text
    (ctx.workspace / "notes.txt").write_text("not an image")
    with pytest.raises(ToolError, match="not an image"):
        call(view_image, ctx, path="notes.txt")


def test_web_search_unconfigured_says_so(ctx):
    assert "web search is not configured" in call(web_search, ctx, query="patchtst").text


def test_web_search_provider_mode_uses_the_models_native_search(ctx):
    ctx.web_search = WebSearchConfig(mode="provider")
    ctx.agent = SimpleNamespace(model=SimpleNamespace())
    with pytest.raises(ToolError, match="no server-side web search"):
        call(web_search, ctx, query="q")
    ctx.agent = SimpleNamespace(model=SimpleNamespace(native_web_search=lambda q: f"native results for {q}"))
    assert call(web_search, ctx, query="q").text == "native results for q"


@pytest.fixture
def search_server():
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            seen.append({"method": "GET", "path": self.path})
            self._reply({"results": [{"title": f"Result {i}", "url": f"https://ex.org/{i}", "content": f"snippet {i}"}
                                     for i in range(10)]})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"method": "POST", "body": body, "auth": self.headers.get("Authorization")})
            self._reply({"web": {"results": [{"title": "Brave-like", "url": "https://b.org", "description": "d"}]}})

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", seen
    srv.shutdown()
    srv.server_close()


def test_web_search_http_get_with_query_in_the_url(ctx, search_server):
    base, seen = search_server
    ctx.web_search = WebSearchConfig(mode="http", url=base + "/search?q={query}&format=json")
    out = call(web_search, ctx, query="rolling window backtest", max_results=3).text
    assert seen[0]["path"] == "/search?q=rolling+window+backtest&format=json"
    assert "Result 0" in out and "https://ex.org/2" in out and "snippet 1" in out and "Result 3" not in out


def test_web_search_http_post_sends_the_key(ctx, search_server, monkeypatch):
    base, seen = search_server
    monkeypatch.setenv("SEARCH_API_KEY", "k-123")
    ctx.web_search = WebSearchConfig(mode="http", url=base + "/api", api_key_env="SEARCH_API_KEY")
    out = call(web_search, ctx, query="q").text
    assert seen[0]["body"] == {"query": "q", "max_results": 5} and seen[0]["auth"] == "Bearer k-123"
    assert "Brave-like" in out and "https://b.org" in out
    monkeypatch.delenv("SEARCH_API_KEY")
    with pytest.raises(ToolError, match="SEARCH_API_KEY"):
        call(web_search, ctx, query="q")


def test_web_search_http_failure_is_a_tool_error(ctx):
    ctx.web_search = WebSearchConfig(mode="http", url="http://127.0.0.1:9/none")
    with pytest.raises(ToolError, match="web search request failed"):
        call(web_search, ctx, query="q")


def test_report_to_user_finishes_and_keeps_a_copy(ctx):
    with pytest.raises(Finished) as fin:
        call(report_to_user, ctx, message="RMSE 0.41, baseline 0.52")
    assert fin.value.payload == "RMSE 0.41, baseline 0.52"
    assert "RMSE 0.41" in (ctx.workspace / "notes" / "reports.md").read_text()
    with pytest.raises(ToolError, match="empty"):
        call(report_to_user, ctx, message="  ")


def test_spawn_agent_outside_an_agent_is_a_tool_error(ctx):
    spawn = next(t for t in general_tools() if t.name == "spawn_agent")
    with pytest.raises(ToolError, match="only available inside an agent"):
        call(spawn, ctx, task="x")

