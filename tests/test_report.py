"""`evospike report`: one self-contained HTML page per run or comparison, checked by parsing
it and by rendering it in headless Chromium (skipped where Chromium is absent)."""
import base64
import contextlib
import io
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evo.app.cli import main
from evo.training import config as cfg
from evo.training.api import run

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"
STRATEGIES = ("neat", "cma", "ga", "nsga2", "openes")
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


def tiny_run(out: Path, name: str, strategy: str, seed: int = 0) -> Path:
    layer = {"task": {"name": "xor"}, "strategy": {"name": strategy},
             "run": {"generations": 3, "quiet": True, "backend": "serial", "out": str(out), "name": name,
                     "seed": seed, "stop_on_solved": False, "validate_every": 0}}
    if strategy != "neat":
        layer["strategy"]["population"] = 8
    return run(cfg.resolve(layer), log=None).path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny xor run of each strategy, and ten more (five ga, five openes) to compare."""
    root = tmp_path_factory.mktemp("runs")
    single = {s: tiny_run(root / "single", s, s) for s in STRATEGIES}
    for seed in range(5):
        for s in ("ga", "openes"):
            tiny_run(root / "ten", f"{s}-{seed}", s, seed)
    return single, root / "ten"


@pytest.fixture(scope="module")
def single_reports(runs):
    """Each single run's report, as `evospike report RUN_DIR` writes it, with what it printed."""
    out = {}
    for strategy, path in runs[0].items():
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert main(["report", str(path)]) == 0
        out[strategy] = (path / "report.html", printed.getvalue().splitlines())
    return out


@pytest.fixture(scope="module")
def ten_report(runs, tmp_path_factory):
    """The report comparing the ten runs, as `evospike report DIR -o FILE` writes it."""
    out = tmp_path_factory.mktemp("report") / "ten.html"
    assert main(["report", str(runs[1]), "-o", str(out)]) == 0
    return out


class Page(HTMLParser):
    """What the checks need of a page: section ids, img sources, every URL-bearing attribute,
    the tags used, and the text."""

    def __init__(self, text: str):
        super().__init__()
        self.sections, self.images, self.urls, self.tags, self.text = [], [], [], set(), []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        self.urls += [v for k, v in attrs.items() if k in ("src", "href", "srcset", "action", "poster", "data")]

    def handle_data(self, data):
        self.text.append(data)


def check_self_contained(text: str) -> Page:
    page = Page(text)
    assert not page.tags & {"script", "link", "iframe", "object", "embed", "base"}, page.tags
    for url in page.urls:  # internal anchors and embedded images only
        assert url.startswith("#") or url.startswith("data:image/png;base64,"), url[:80]
    assert not re.search(r"url\(|@import|https?://", text.split("<body")[0]), "the style sheet fetches something"
    assert "http://" not in text and "https://" not in text
    for src in page.images:
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data[:8] == PNG and len(data) > 1000
    return page


def pictures(text: str) -> list[str]:
    return re.findall(r"<figcaption>([^<]+\.png)</figcaption>", text)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_report_of_one_run_has_every_section_and_its_plots(runs, single_reports, strategy):
    path = runs[0][strategy]
    report, printed = single_reports[strategy]
    assert report == path / "report.html" and printed == [f"wrote {report}"]
    text = report.read_text()
    page = check_self_contained(text)
    assert page.sections == ["summary", "plots", "config"]
    want = {"fitness.png", "topology.png", "raster.png"} | {"neat": {"species.png"}, "nsga2": {"pareto.png"}}.get(
        strategy, set())
    assert set(pictures(text)) == want and len(page.images) == len(want)
    words = " ".join(page.text)
    assert "finished" in words and f"name = \"{strategy}\"" in words and "[meta]" in words


def test_report_compares_ten_runs(ten_report):
    text = ten_report.read_text()
    page = check_self_contained(text)
    assert page.sections == ["summary", "compare", "plots", "config"]
    assert len(re.findall(r"<details>", text)) == 20  # plots and config of each run
    assert pictures(text).count("fitness.png") == 10 and len(page.images) == 1 + 3 * 10  # the curves, then per run
    words = " ".join(page.text)
    assert "Mann-Whitney U" in words and all(f"{s}-{k}" in words for s in ("ga", "openes") for k in range(5))


def test_report_of_several_runs_writes_to_the_current_folder(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("evo.app.cli.write_plots", lambda path: [])  # the pictures the runs have
    single = runs[0]
    assert main(["report", str(single["ga"]), str(single["cma"]), "--by", "run", "--x", "generation"]) == 0
    assert (tmp_path / "report.html").is_file()


@pytest.mark.parametrize("argv, message", [
    (["-o", "/no/such/folder/r.html"], "--output '/no/such/folder/r.html': the folder '/no/such/folder' does not"),
    (["--x", "minutes"], "x 'minutes' (--x); expected one of"),
])
def test_report_checks_its_options_first(runs, argv, message, capsys):
    path = runs[0]["ga"]
    assert main(["report", str(path), *argv]) == 2
    assert message in capsys.readouterr().err


def test_report_without_runs_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run directories found" in err


def test_report_without_matplotlib_still_writes_the_page(runs, tmp_path, monkeypatch, capsys):
    from evo.app import plots
    from evo.errors import ConfigError

    def missing():
        raise ConfigError("plots need matplotlib: pip install 'evospike[plot]'")

    monkeypatch.setattr(plots, "_plt", missing)
    fresh = shutil.copytree(runs[0]["ga"], tmp_path / "ga", ignore=shutil.ignore_patterns("*.png", "report.html"))
    assert main(["report", str(fresh)]) == 0
    text = (fresh / "report.html").read_text()
    assert "plots need matplotlib" in text and "<img" not in text
    assert "plots need matplotlib" in capsys.readouterr().err


# ---- headless Chromium ------------------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]
# Injected into a copy of the page (the report itself has no script): after loading, the body
# says how many images there are and how many failed to decode.
PROBE = ("<script>window.addEventListener('load', () => { const all = [...document.images]; "
         "const bad = all.filter(i => !(i.complete && i.naturalWidth > 0)); "
         "document.body.setAttribute('data-probe', all.length + ' ' + bad.length); });</script>")


def chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=60)


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def screenshot_check(tmp_path: Path, report: Path, height: int) -> tuple[int, int]:
    """Render ``report``; assert no console message and a screenshot with pictures in it.
    Returns (images, images that failed to decode) as the probe saw them."""
    shot = tmp_path / f"{report.stem}.png"
    done = chromium(tmp_path, report, f"--screenshot={shot}", f"--window-size=1280,{height}")
    assert shot.is_file(), done.stderr[-2000:]
    assert not console_lines(done.stderr), console_lines(done.stderr)
    from PIL import Image
    import numpy as np

    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert img.shape[:2] == (height, 1280)
    ink = (img.min(axis=2) < 200).mean()  # text, lines and plot areas, not white page
    color = (img.max(axis=2) - img.min(axis=2) > 60).mean()  # the plots' coloured lines and areas
    assert ink > 0.01 and color > 0.001, (ink, color)
    probe = tmp_path / f"{report.stem}-probe.html"
    probe.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium(tmp_path, probe, "--virtual-time-budget=10000", "--dump-dom")
    found = re.search(r'data-probe="(\d+) (\d+)"', dom.stdout)
    assert found, dom.stderr[-2000:]
    return int(found[1]), int(found[2])


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium(single_reports, ten_report, tmp_path):
    images, failed = screenshot_check(tmp_path, single_reports["neat"][0], 3000)
    assert (images, failed) == (4, 0)
    images, failed = screenshot_check(tmp_path, ten_report, 1400)
    assert (images, failed) == (31, 0)
