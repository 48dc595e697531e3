"""Helpers of scripts/screenshots.sh: a small campaign on the synthetic domain against the Prefect server at
PREFECT_API_URL, the UI pages to screenshot, artifact versions per key, and PNG compression. Not part of the tests.

    python scripts/screenshots.py campaign WORKDIR                  # WORKDIR/campaign.yaml, then `alphalab run` it
    python scripts/screenshots.py terminal TYPESCRIPT PNG CHROMIUM  # a frame of the live view, as a PNG
    python scripts/screenshots.py shoot UI_URL OUT_DIR CHROMIUM     # a PNG per UI page
    python scripts/screenshots.py compress PNG...                   # shrink each PNG in place (palette, optimized)
    python scripts/screenshots.py versions                          # artifact versions per key, as JSON
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
NAME = "shots"
EXPLORE = """import csv, sys
from pathlib import Path
rows = [r for f in sorted(Path(sys.argv[1]).glob("*.csv")) for r in csv.DictReader(f.open())]
print(f"- {len(rows)} observations of x, kind and loss")
"""


def campaign(work: Path) -> None:
    from fixtures.phase3.library import install_library, write_data

    adapters, harnesses = install_library(work / "library")
    # the baseline Explorer runs the adapter's exploration script; the synthetic adapter has none of its own
    (adapters / "synthetic" / "explore.py").write_text(EXPLORE)
    manifest = adapters / "synthetic" / "manifest.yaml"
    manifest.write_text(manifest.read_text() + "exploration_script: explore.py\n")
    # and the baseline Tester runs the harness's own tests
    (harnesses / "synthetic" / "tests").mkdir()
    (harnesses / "synthetic" / "tests" / "test_evaluate.py").write_text(
        "from harness import evaluate\n\n\ndef test_it_imports():\n    assert evaluate.__name__\n")
    raw = {
        "name": NAME, "domain": "synthetic", "data_path": str(write_data(work)),
        "objective": "minimize the synthetic loss", "workspace": str(work / "ws"),
        "budgets": {"experiments": 6, "usd": 10.0, "wall_clock_hours": 1.0},
        "execution": {"backend": "local", "gpu_slots": ["0", "1"]},
        "phase2": {"max_rounds": 1},
        "phase3": {"strategist_every": 3, "reporter_every": 3, "patience": 50, "proposals_per_turn": 3,
                   "noise_seeds": 2, "verify_reruns": 2},
    }
    config = work / "campaign.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    env = {"ALPHALAB_ADAPTERS_DIR": str(adapters), "ALPHALAB_HARNESSES_DIR": str(harnesses)}
    subprocess.run([str(REPO / ".venv/bin/alphalab"), "run", str(config)], env={**os.environ, **env}, check=True)


def _client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def _artifacts() -> list:
    out: list = []
    with _client() as client:
        while page := client.read_artifacts(limit=200, offset=len(out)):  # the API pages at 200
            out += page
    return out


def versions() -> dict[str, int]:
    return dict(sorted(Counter(a.key for a in _artifacts() if a.key).items()))


# artifact key: the text its page shows once the artifact is rendered, its height, and whether the V1 UI is shot too
ARTIFACT_PAGES = {"leaderboard": ("spread", 900, True), "board": ("running", 900, True),
                  "budget": ("experiments", 600, False), "milestone-001": ("Convergence", 1500, True)}


def _latest(client, key: str):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                  sort=ArtifactSort.CREATED_DESC, limit=1)
    return found[0] if found else None


def _busy_board(client):
    """The board's latest version with experiments running (the last one shows a campaign that ended)."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    versions = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"{NAME}-board"])),
                                     sort=ArtifactSort.CREATED_DESC, limit=200)
    return next((a for a in versions if "· slot" in str(a.data)), None)


def pages(ui: str) -> list[tuple[str, str, str, int]]:
    """(name, url, text to wait for, height, seconds to let it settle): the V2 UI (what the server's root opens)
    and, for some artifacts, the V1 UI too (what a deep link such as the CLI's "View at" opens)."""
    from prefect.client.schemas.sorting import FlowRunSort

    with _client() as client:
        runs = client.read_flow_runs(sort=FlowRunSort.START_TIME_ASC)
        flows = {f.id: f.name for f in client.read_flows()}
        latest = {key: _latest(client, f"{NAME}-{key}") for key in ARTIFACT_PAGES}
        latest["board"] = _busy_board(client) or latest["board"]
    top = next(r for r in runs if r.parent_task_run_id is None)
    phase3 = next(r for r in runs if flows[r.flow_id] == "phase3-experiments")
    # the run graph draws on a canvas after the page's text is in: it gets longer to settle
    out = [("campaign-run", f"{ui}/v2/runs/flow-run/{top.id}", top.name, 900, 8.0),
           ("phase3-artifacts", f"{ui}/v2/runs/flow-run/{phase3.id}?tab=Artifacts", phase3.name, 900, 2.0),
           ("runs-by-tag", f"{ui}/v2/runs?tags=campaign:{NAME}", top.name, 1200, 3.0),
           ("events", f"{ui}/v2/events?resource={quote(json.dumps([f'alphalab.campaign.{NAME}']))}",
            "alphalab.campaign.finished", 1300, 3.0)]  # the server stores events a moment after they are sent
    for key, (wait_for, height, v1) in ARTIFACT_PAGES.items():
        if latest[key] is not None:
            out.append((key, f"{ui}/v2/artifacts/artifact/{latest[key].id}", wait_for, height, 2.0))
            if v1:
                out.append((f"v1-{key}", f"{ui}/artifacts/artifact/{latest[key].id}", wait_for, height, 2.0))
    return out


class Chromium:
    """Headless Chromium driven over the DevTools protocol: a page is shot once the text it must show is there (the
    UI is a JS app that fetches after it loads), not after a fixed wait that is too short on a busy machine."""

    def __init__(self, binary: str, profile: Path):
        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
             "--hide-scrollbars", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "--window-size=1280,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline:
                raise RuntimeError("chromium did not start")
            time.sleep(0.2)
        port = port_file.read_text().split()[0]
        page = next(t for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page")
        from websockets.sync.client import connect

        self.ws = connect(page["webSocketDebuggerUrl"], max_size=None)
        self._id = 0

    def call(self, method: str, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def text(self) -> str:
        return self.call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''",
                         returnByValue=True)["result"].get("value", "")

    def shoot(self, url: str, path: Path, wait_for: str, height: int = 900, settle_s: float = 2.0,
              timeout_s: float = 60) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=height, deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout_s
        reload_at = time.monotonic() + 10
        while wait_for not in self.text():
            if time.monotonic() > deadline:
                print(f"{path.name}: {wait_for!r} never showed on {url}", file=sys.stderr)
                break
            if time.monotonic() > reload_at:  # some pages fetch once: what the server stored since needs a reload
                self.call("Page.navigate", url=url)
                reload_at = time.monotonic() + 10
            time.sleep(0.5)
        time.sleep(settle_s)  # images decode and the layout settles after the text is in
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.call("Browser.close")  # lets its helper processes end with it
        except Exception:
            pass
        self.ws.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(10)


def shoot_all(ui: str, out: Path, binary: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:  # chromium's helpers may outlive it
        browser = Chromium(binary, Path(profile))
        try:
            for name, url, wait_for, height, settle_s in pages(ui):
                browser.shoot(url, out / f"{name}.png", wait_for, height, settle_s)
                print(f"{name}: {url}")
        finally:
            browser.close()


def terminal_frame(typescript: Path, events_above: int = 5) -> str:
    """A frame of `alphalab run`'s live view from its typescript (`script`'s record of the terminal): the panel
    while experiments run and a best exists, under the last progress lines printed before it (whole, as wrapped)."""
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b[()][AB0-9]|\r", "", typescript.read_text(errors="replace"))
    # a redraw starts where the last one ended
    text = text.replace("╯╭", "╯\n╭").replace("╯p", "╯\np").replace("╯c", "╯\nc")
    lines = text.splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith("╭─ alphalab")]
    ends = {i: next(j for j in range(i, len(lines)) if lines[j].startswith("╰")) for i in frames}
    busy = [i for i in frames if any("slot" in lines[j] and " e0" in lines[j] for j in range(i, ends[i]))
            and any(lines[j].startswith("│ best") and "none yet" not in lines[j] for j in range(i, ends[i]))]
    start = (busy or frames)[len(busy or frames) // 2]
    printed = [line for line in lines[:start] if line and line[0] not in "│╭╰" and not line.startswith("Script")]
    firsts = [k for k, line in enumerate(printed) if line.startswith(("phase ", "campaign |"))]
    return "\n".join(printed[firsts[-events_above] if len(firsts) >= events_above else 0:]
                     + lines[start:ends[start] + 1])


def terminal_html(frame: str) -> str:
    import html

    return ("<html><body style='margin:0;background:#1e1e1e'><pre style='margin:16px;color:#e0e0e0;font:14px "
            f"monospace;line-height:1.35'>{html.escape(frame)}</pre></body></html>")


def compress(paths: list[str]) -> None:
    from PIL import Image

    for p in paths:
        img = Image.open(p).convert("RGB")
        img.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(p, optimize=True)
        print(f"{p}: {Path(p).stat().st_size // 1024} KB")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "campaign":
        campaign(Path(args[0]))
    elif cmd == "shoot":  # UI_URL OUT_DIR CHROMIUM
        shoot_all(args[0].rstrip("/"), Path(args[1]), args[2])
    elif cmd == "terminal":  # TYPESCRIPT OUT_PNG CHROMIUM
        import tempfile

        page = Path(tempfile.mkdtemp()) / "terminal.html"
        frame = terminal_frame(Path(args[0]))
        page.write_text(terminal_html(frame))
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:  # chromium's helpers may outlive it
            browser = Chromium(args[2], Path(profile))
            try:
                browser.shoot(page.as_uri(), Path(args[1]), "alphalab", 19 * len(frame.splitlines()) + 40, 0.5)
            finally:
                browser.close()
    elif cmd == "versions":
        print(json.dumps(versions(), indent=1))
    elif cmd == "compress":
        compress(args)
    else:
        raise SystemExit(__doc__)
