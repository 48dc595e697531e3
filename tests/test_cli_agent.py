"""`alphalab agent`: scripted runs, and the real OpenAI and Anthropic providers end to end against a fake server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from cli.main import main
from tests.fakes.llm_server import anthropic_reply, llm_server, openai_reply  # noqa: F401

ALPHALAB = Path(sys.executable).parent / "alphalab"


def _trajectory(ws: Path) -> list[dict]:
    (path,) = (ws / "trajectories").glob("agent-*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_scripted_agent_runs_tools_and_reports(tmp_path, capsys):
    script = tmp_path / "script.yaml"
    script.write_text(yaml.safe_dump([
        {"tool": "write_file", "args": {"path": "hello.py", "content": "print(6 * 7)\n"}},
        {"tool": "shell_exec", "args": {"command": "python3 hello.py"}},
        {"tool": "report_to_user", "args": {"message": "the answer is 42"}},
    ]))
    ws = tmp_path / "ws"
    code = main(["agent", "compute the answer", "--model", "scripted", "--script", str(script), "--workspace", str(ws)])
    out = capsys.readouterr().out
    assert code == 0
    assert "the answer is 42" in out and "step 2: shell_exec" in out
    assert (ws / "hello.py").exists()
    steps = _trajectory(ws)
    assert "42" in steps[1]["tools"][0]["output"]
    assert (ws / "usage.jsonl").read_text().count("\n") == 3


def test_agent_command_reports_user_errors(tmp_path, capsys, monkeypatch):
    ws = str(tmp_path / "ws")
    assert main(["agent", "t", "--model", "openai-compatible:llama", "--workspace", ws]) == 2
    assert "base_url" in capsys.readouterr().err
    assert main(["agent", "t", "--model", "gemini:pro", "--workspace", ws]) == 2
    assert "unknown provider 'gemini'" in capsys.readouterr().err
    assert main(["agent", "t", "--model", "openai:gpt-4.1", "--workspace", ws]) == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().err
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["agent", "t", "--model", "scripted", "--script", "x.yaml", "--workspace", ws,
                 "--sandbox", "bwrap"]) == 2
    assert "apt-get install -y bubblewrap" in capsys.readouterr().err


def test_agent_through_the_openai_provider(tmp_path, monkeypatch, capsys, llm_server):  # noqa: F811
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    llm_server.enqueue(
        openai_reply(tool_calls=[("shell_exec", "{broken json")], prompt_tokens=100),
        openai_reply(tool_calls=[("shell_exec", {"command": "echo from-the-shell"})], prompt_tokens=100),
        openai_reply(tool_calls=[("view_image", {"path": "plot.png"})], prompt_tokens=100),
        openai_reply(tool_calls=[("report_to_user", {"message": "all done"})], prompt_tokens=1000),
    )
    ws = tmp_path / "ws"
    ws.mkdir()
    Image.new("RGB", (8, 8)).save(ws / "plot.png")
    code = main(["agent", "say hi", "--model", "openai:gpt-4.1", "--base-url", llm_server.openai_base_url,
                 "--workspace", str(ws)])
    assert code == 0 and "all done" in capsys.readouterr().out
    bodies = llm_server.bodies()
    assert len(bodies) == 4 and bodies[0]["model"] == "gpt-4.1"
    assert {t["function"]["name"] for t in bodies[0]["tools"]} >= {"shell_exec", "report_to_user", "spawn_agent"}
    tool_msgs = [m for m in bodies[3]["messages"] if m["role"] == "tool"]
    assert "not valid JSON" in tool_msgs[0]["content"] and "from-the-shell" in tool_msgs[1]["content"]
    image_parts = [p for m in bodies[3]["messages"] if isinstance(m["content"], list)
                   for p in m["content"] if p.get("type") == "image_url"]
    assert len(image_parts) == 1 and image_parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    end = _trajectory(ws)[-1]["result"]
    # gpt-4.1: $2/M in, $8/M out -> 3*100 + 1000 in, 4*20 out
    assert end["cost_usd"] == pytest.approx((1300 * 2 + 80 * 8) / 1e6)


def test_agent_through_the_anthropic_provider(tmp_path, monkeypatch, capsys, llm_server):  # noqa: F811
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-fake")
    llm_server.enqueue(
        anthropic_reply(text="Let me look.", tool_uses=[("write_file", {"path": "n.txt", "content": "x"}),
                                                         ("read_file", {"path": "n.txt"})]),
        anthropic_reply(tool_uses=[("report_to_user", {"message": "read it"})]),
    )
    ws = tmp_path / "ws"
    code = main(["agent", "t", "--model", "anthropic:claude-haiku-4-5", "--base-url", llm_server.base_url,
                 "--workspace", str(ws)])
    assert code == 0 and "read it" in capsys.readouterr().out
    second = llm_server.bodies()[1]
    results = [b for m in second["messages"] if m["role"] == "user" and isinstance(m["content"], list)
               for b in m["content"] if b.get("type") == "tool_result"]
    assert len(results) == 2 and "wrote 1 bytes" in json.dumps(results[0])


def test_agent_entry_point_runs_as_a_command(tmp_path):
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"tool": "report_to_user", "args": {"message": "hello from a subprocess"}}]))
    proc = subprocess.run([str(ALPHALAB), "agent", "t", "--model", "scripted", "--script", str(script),
                           "--workspace", str(tmp_path / "ws")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "hello from a subprocess" in proc.stdout
