"""report.html: rendered from a fake run, escaped, self-contained; then driven in a real headless Chromium."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from typer.testing import CliRunner

from engine.cli import app
from engine.errors import ConfigError
from engine.report.html import render_html, write_html
from tests.conftest import run_fake

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
STATUSES = ["consensus", "contested", "unique", "refuted"]
TRUTHS = [0.95, 0.8, 0.65, 0.5, 0.35, 0.2]
PAYLOAD = '<script>alert("pwned")</script><img src=x onerror=alert(2)>'


def load(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "report.json").read_text(encoding="utf-8"))


def save(run_dir: Path, data: dict[str, Any]) -> None:
    (run_dir / "report.json").write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real fake-model run (which writes report.html itself)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REBUTTAL_FORBID_REAL_MODELS", "1")
        run_dir, report = run_fake(tmp_path_factory.mktemp("html"), personas=4, k=2)
    assert report.findings
    return run_dir


@pytest.fixture(scope="module")
def varied_run(fake_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same run with findings spread over statuses and scores (and one hostile title), then re-rendered."""
    run_dir = tmp_path_factory.mktemp("varied") / fake_run.name
    shutil.copytree(fake_run, run_dir)
    data = load(run_dir)
    base = data["findings"]
    findings = []
    for n in range(6):
        f = json.loads(json.dumps(base[n % len(base)]))
        f.update(id=f"F-{n + 1:03d}", status=STATUSES[n % 4], severity=["critical", "high", "medium", "low"][n % 4],
                 line_start=10 + n, line_end=10 + n)
        f["scores"].update(truth=TRUTHS[n], usefulness=round(1 - TRUTHS[n] / 2, 2))
        findings.append(f)
    findings[-1]["title"] = PAYLOAD
    data["findings"] = findings
    save(run_dir, data)
    write_html(run_dir)
    return run_dir


# -- without a browser ---------------------------------------------------------------------------------------------

def test_every_run_writes_report_html(fake_run: Path) -> None:
    page = (fake_run / "report.html").read_text(encoding="utf-8")
    report = load(fake_run)
    assert page.startswith("<!doctype html>")
    assert report["target"] in page and report["workflow"] in page and "judge" in page.lower()
    assert page.count('<a class="pt"') == len(report["findings"])
    assert page.count('<details class="finding"') == len(report["findings"])
    assert len(re.findall(r"<tr data-id=", page)) == len(report["findings"])
    for f in report["findings"]:
        assert f'id="{f["id"]}"' in page and f'href="#{f["id"]}"' in page


def test_page_is_self_contained(fake_run: Path) -> None:
    page = (fake_run / "report.html").read_text(encoding="utf-8")
    assert "<link rel=\"stylesheet\"" not in page and "<script src" not in page and "@import" not in page
    assert page.count("<script>") == 1
    for url in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert url.startswith(("#", "data:")) or ("://" not in url and not url.startswith("//")), url
        if not url.startswith(("#", "data:")):
            assert (fake_run / url).is_file(), url  # links to the run's own files, relative
    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page  # CSP: only this exact script may run; no network at all
    assert "default-src 'none'" in page


def test_model_text_is_escaped(fake_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(fake_run, run_dir)
    data = load(run_dir)
    f = data["findings"][0]
    f["title"] = PAYLOAD
    f["evidence"] = "</blockquote><script>alert(3)</script>"
    f["fix"] = '"><svg onload=alert(4)>'
    f["scores"]["truth_rationale"] = "</dd></dl><iframe src=javascript:alert(5)>"
    f["stances"][0]["reason"] = "<b onmouseover=alert(6)>hover</b>"
    f["file"] = 'a"b<c>.py'
    save(run_dir, data)
    page = render_html(run_dir)
    for raw in (PAYLOAD, "<script>alert(3)", "<svg onload", "<iframe", "<b onmouseover", 'a"b<c>.py'):
        assert raw not in page
    assert str(escape(PAYLOAD)) in page and "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page
    assert page.count("<script>") == 1


def test_partial_and_degraded_runs_say_so(fake_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(fake_run, run_dir)
    data = load(run_dir)
    data.update(complete=False, partial_reason="budget reached: 40 calls", degraded=["judge failed; mechanical"],
                failures=[{"stage": "reviews", "persona": "x", "error": "timeout"}], findings=[])
    save(run_dir, data)
    page = render_html(run_dir)
    assert "state partial" in page and "budget reached: 40 calls" in page and "judge failed; mechanical" in page
    assert "Dropped:" in page and "No findings" in page and "rebuttal resume" in page


def test_self_review_shows_critiques_in_the_chain(tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REBUTTAL_FORBID_REAL_MODELS", "1")
        run_dir, report = run_fake(tmp_path, workflow="self-review")
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    critiques = json.loads((run_dir / "debate.json").read_text(encoding="utf-8"))["critiques"]
    assert critiques and report.findings
    for cr in critiques:
        assert f"critique round {cr['round']} by <strong>{cr['persona']}</strong>" in page
    assert 'href="critiques/' in page and "critiqued " in page


def test_report_command_rewrites_html(fake_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(fake_run, run_dir)
    (run_dir / "report.html").unlink()
    res = CliRunner().invoke(app, ["report", str(run_dir), "--html"])
    assert res.exit_code == 0 and (run_dir / "report.html").is_file()
    with pytest.raises(ConfigError, match="no report.json"):
        write_html(tmp_path)


# -- in a real headless Chromium --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("browser tests need Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, varied_run: Path) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.problems = []  # console errors, page errors, dialogs and non-file requests
    pg.on("console", lambda m: pg.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(f"pageerror: {e}"))
    pg.on("dialog", lambda d: (pg.problems.append(f"dialog: {d.message}"), d.dismiss()))
    pg.on("request", lambda r: None if r.url.startswith(("file://", "data:")) else pg.problems.append(r.url))
    pg.goto((varied_run / "report.html").as_uri())
    yield pg
    ctx.close()



def visible_rows(page: Any) -> list[str]:
    return page.eval_on_selector_all("#findings-table tbody tr:not([hidden])", "rs => rs.map(r => r.dataset.id)")


@pytest.mark.browser
def test_page_loads_clean_with_one_point_per_finding(page: Any, varied_run: Path) -> None:
    findings = load(varied_run)["findings"]
    assert page.locator("svg.scatter a.pt").count() == len(findings) == 6
    assert page.locator("#shown").inner_text() == "6 of 6 findings shown"
    title = page.locator('details[data-id="F-006"] .ftitle').inner_text()
    assert title == PAYLOAD  # shown as text, never run
    page.wait_for_timeout(100)
    assert page.problems == []


@pytest.mark.browser
def test_clicking_a_point_shows_its_chain(page: Any, varied_run: Path) -> None:
    f = load(varied_run)["findings"][1]
    details = page.locator(f'details[data-id="{f["id"]}"]')
    assert details.get_attribute("open") is None
    page.locator(f'a.pt[data-id="{f["id"]}"]').click()
    assert details.get_attribute("open") is not None
    chain = details.locator("ol.chain > li")
    issues = [i for i in f["issues"] if not i.startswith("FS-")]
    assert chain.count() == len(issues)
    assert chain.first.is_visible()
    text = details.inner_text()
    assert all(i in text for i in issues) and "Disagreed" in text and "Changed their mind" in text
    hrefs = details.locator("ol.chain a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert any(h.startswith("reviews/") for h in hrefs) and any(h.startswith(("responses/", "rebuttals/"))
                                                                 for h in hrefs)
    assert (varied_run / hrefs[0]).is_file()
    page.locator('#findings-table a[href="#F-004"]').click()  # the table's links open chains too
    assert page.locator('details[data-id="F-004"]').get_attribute("open") is not None
    assert page.problems == []


@pytest.mark.browser
def test_filtering(page: Any, varied_run: Path) -> None:
    findings = load(varied_run)["findings"]
    rank = {"low": 1, "medium": 2, "high": 3, "critical": 4}
    page.select_option("#filters select[name=severity]", "3")  # high or worse
    expected = [f["id"] for f in findings if rank[f["severity"]] >= 3]
    assert visible_rows(page) == expected
    assert page.locator("#shown").inner_text() == f"{len(expected)} of 6 findings shown"
    assert page.locator("svg.scatter a.pt.dim").count() == 6 - len(expected)
    assert page.locator('details.finding[hidden]').count() == 6 - len(expected)
    page.locator("#filters input[name=status][value=consensus]").uncheck()
    expected = [f["id"] for f in findings if rank[f["severity"]] >= 3 and f["status"] != "consensus"]
    assert visible_rows(page) == expected
    page.click("#filters button[type=reset]")
    page.wait_for_timeout(50)
    assert len(visible_rows(page)) == 6
    page.fill("#filters input[name=truth]", "0.6")
    page.fill("#filters input[name=usefulness]", "0.55")
    expected = [f["id"] for f in findings if f["scores"]["truth"] >= 0.6 and f["scores"]["usefulness"] >= 0.55]
    assert visible_rows(page) == expected and 0 < len(expected) < 6
    page.click("#filters button[type=reset]")
    persona = findings[0]["personas"][0]
    page.select_option("#filters select[name=persona]", persona)
    assert visible_rows(page) == [f["id"] for f in findings if persona in f["personas"]]
    page.click("#filters button[type=reset]")
    page.fill("#filters input[name=q]", "pwned")
    assert visible_rows(page) == ["F-006"]
    assert page.problems == []


@pytest.mark.browser
def test_sorting(page: Any, varied_run: Path) -> None:
    findings = load(varied_run)["findings"]
    header = page.locator("#findings-table th", has_text="truth")
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    by_truth = [f["id"] for f in sorted(findings, key=lambda f: -f["scores"]["truth"])]
    assert visible_rows(page) == by_truth
    header.locator("button").click()
    assert visible_rows(page) == by_truth[::-1]
    page.locator("#findings-table th", has_text="severity").locator("button").click()
    rank = {"low": 1, "medium": 2, "high": 3, "critical": 4}
    ranks = [rank[next(f["severity"] for f in findings if f["id"] == i)] for i in visible_rows(page)]
    assert ranks == sorted(ranks, reverse=True)
    assert page.problems == []


@pytest.mark.browser
def test_readable_with_javascript_off(browser: Any, varied_run: Path) -> None:
    ctx = browser.new_context(java_script_enabled=False)
    pg = ctx.new_page()
    pg.goto((varied_run / "report.html").as_uri())
    assert pg.locator("#findings-table tbody tr").count() == 6
    assert all(pg.locator("#findings-table tbody tr").nth(i).is_visible() for i in range(6))
    assert not pg.locator("#filters").is_visible() and not pg.locator("#shown").is_visible()
    assert pg.locator("svg.scatter a.pt").count() == 6
    pg.locator('details[data-id="F-002"] > summary').click()  # native <details>, no script needed
    assert pg.locator('details[data-id="F-002"] ol.chain').is_visible()
    pg.locator('a.pt[data-id="F-003"]').click()  # a point's link opens its chain (the browser expands it)
    assert pg.locator('details[data-id="F-003"]').get_attribute("open") is not None
    assert "F-003" in pg.url
    ctx.close()
