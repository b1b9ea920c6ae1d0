"""The static site of the executed notebooks (alsmeds.pipeline.site), unit tests and a real browser.

The browser test builds the site once from the committed notebooks, figures and results
into a temporary folder, serves it on 127.0.0.1 and opens every page in Debian's
``chromium`` through Playwright.  A page fails on a console error, an uncaught exception,
a failed request or an HTTP error, any request to another host, an image that did not
load, math that MathJax did not typeset, TeX source left in the prose (a ``$``, ``\\alpha``,
``\\frac`` or ``\\(`` outside code blocks and MathJax's output: math MyST did not recognise),
or a link to a local page or anchor that does not exist.  Screenshots of the index and of
notebook 06 go to ``build/site-screenshots/``.

Without chromium (or MathJax) the browser test is skipped locally, and fails under CI
(``CI`` set): ``.ci/run`` installs both.
"""

from __future__ import annotations

import csv
import functools
import http.server
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

from alsmeds import paths
from alsmeds.pipeline import site

IN_CI = os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}
SCREENSHOTS = paths.BUILD_DIR / "site-screenshots"
INSTALL = "apt-get install --no-install-recommends chromium libjs-mathjax"


def _notebook(path: Path, *markdown: str) -> Path:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": text} for text in markdown]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


# ----------------------------------------------------------------------------- unit tests


def test_summary_takes_title_and_journal_club_question(tmp_path: Path) -> None:
    nb = _notebook(
        tmp_path / "03_models.ipynb",
        "# 03 · Risk models\n\nAn opening paragraph.\n\n**Question for the journal club.** Is it the drugs?\n"
        "Or reverse causation?\n\nMore text.",
    )
    summary = site.summarize_notebook(nb)
    assert (summary.number, summary.title, summary.stem) == ("03", "03 · Risk models", "03_models")
    assert summary.question == "Is it the drugs?\nOr reverse causation?"


def test_summary_points_relative_links_of_the_question_into_the_notebooks_folder(tmp_path: Path) -> None:
    """The index sits above notebooks/: the question's glossary link must still land on the glossary."""
    nb = _notebook(
        tmp_path / "03_models.ipynb",
        "# 03 · Risk models\n\n**Question for the journal club.** Is it "
        "[protopathic bias](glossary.md#protopathic-bias) ([paper](https://doi.org/10.1/x), [below](#why))?",
    )
    assert site.summarize_notebook(nb).question == (
        "Is it [protopathic bias](notebooks/glossary.md#protopathic-bias) "
        "([paper](https://doi.org/10.1/x), [below](#why))?"
    )


def test_summary_falls_back_to_first_paragraph(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "01_a.ipynb", "# 01 · Alpha\nFirst paragraph, right under the title.\n\nSecond.")
    assert site.summarize_notebook(nb).question == "First paragraph, right under the title."


@pytest.mark.parametrize(
    ("name", "cells", "message"),
    [
        ("01_a.ipynb", ["No title here."], "does not start with a '# ' title"),
        ("01_a.ipynb", [], "no markdown cell"),
        ("alpha.ipynb", ["# Alpha"], "NN_name.ipynb"),
    ],
)
def test_summary_names_what_is_wrong(tmp_path: Path, name: str, cells: list[str], message: str) -> None:
    nb = _notebook(tmp_path / name, *cells)
    with pytest.raises(site.SiteError, match=message) as info:
        site.summarize_notebook(nb)
    assert name in str(info.value)


def test_figure_caption_from_name_and_notebook(tmp_path: Path) -> None:
    notebooks = {"05": site.summarize_notebook(_notebook(tmp_path / "05_s.ipynb", "# 05 · Survival\n\nQ?"))}
    assert site.figure_caption("05_km_by_use.png", notebooks) == "Km by use (notebook 05)"
    assert site.figure_caption(Path("figures/09_extra_plot.png"), notebooks) == "Extra plot (no notebook 09)"
    assert site.figure_caption("overview.png", notebooks) == "Overview"


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_reproduction_table_renders_the_columns_present(tmp_path: Path) -> None:
    csv_path = _write_csv(
        tmp_path / "reproduction.csv",
        [
            {
                "target": "risk:a",
                "description": "anxiolytics | adjusted OR",
                "published": "1.34",
                "published_lower": "1.12",
                "published_upper": "1.6",
                "estimate": "1.4670774",
                "ci_lower": "1.227374",
                "ci_upper": "1.7535943",
                "status": "reproduced",
                "note": "not shown",
            },
            {
                "target": "count:cases",
                "description": "cases",
                "published": "1057",
                "published_lower": "",
                "published_upper": "",
                "estimate": "1057",
                "ci_lower": "",
                "ci_upper": "",
                "status": "reproduced",
                "note": "",
            },
        ],
    )
    text, has_table = site.reproduction_markdown(csv_path)
    assert has_table
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| Target"))
    assert header == "| Target | Description | Published (95% CI) | This bundle (95% CI) | Status |"
    assert "| `risk:a` | anxiolytics \\| adjusted OR | 1.34 (1.12–1.60) | 1.47 (1.23–1.75) | reproduced |" in lines
    assert "| `count:cases` | cases | 1057 | 1057 | reproduced |" in lines
    assert "not shown" not in text


def test_reproduction_table_with_fewer_columns(tmp_path: Path) -> None:
    csv_path = _write_csv(tmp_path / "reproduction.csv", [{"target": "t", "estimate": "0.0123", "status": "missed"}])
    text, has_table = site.reproduction_markdown(csv_path)
    assert has_table
    assert "| Target | This bundle | Status |" in text
    assert "| `t` | 0.0123 | missed |" in text


def test_reproduction_table_missing_or_useless_file_is_said(tmp_path: Path) -> None:
    text, has_table = site.reproduction_markdown(tmp_path / "reproduction.csv")
    assert not has_table
    assert "does not exist" in text and "reproduction.csv" in text
    other = _write_csv(tmp_path / "other.csv", [{"x": "1"}])
    text, has_table = site.reproduction_markdown(other)
    assert not has_table and "has none of the columns" in text


def test_index_links_every_notebook_and_figure(tmp_path: Path) -> None:
    nbs = [
        site.summarize_notebook(_notebook(tmp_path / "01_a.ipynb", "# 01 · Alpha\n\nWhy alpha?")),
        site.summarize_notebook(_notebook(tmp_path / "02_b.ipynb", "# 02 · Beta [draft]\n\nWhy beta?")),
    ]
    text = site.index_markdown(nbs, [Path("02_plot.png")], "No reproduction table: missing.")
    assert "### [01 · Alpha](notebooks/01_a.ipynb)" in text
    assert "### [02 · Beta \\[draft\\]](notebooks/02_b.ipynb)" in text
    assert "Why beta?" in text and "No reproduction table: missing." in text
    assert ":img-top: figures/02_plot.png" in text and "Plot (notebook 02)" in text
    assert site.toc_yaml(nbs).splitlines()[-2:] == ["  - file: notebooks/01_a", "  - file: notebooks/02_b"]


def test_index_holds_the_map_from_the_paper_to_the_bundle() -> None:
    from alsmeds.published import paper_map

    nbs = [site.summarize_notebook(p) for p in site.discover_notebooks()]
    text = site.index_markdown(nbs, [], "table")
    section = text[text.index("## From the paper to the bundle") : text.index("## Figure gallery")]
    mapped = paper_map()
    assert section.count("\n| ") - 1 == len(mapped)  # the header, then one row per published target
    assert "[03 · Risk models](notebooks/03_risk_models.ipynb)" in section
    assert all(f"(figures/{figure})" in section for figure in mapped["figure"])


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("the association alpha per point, typeset", []),
        ("with the true trajectory $$ Survival submodel", ["with the true trajectory $$ Survival submodel"]),
        ("score: $h_0$.", ["score: $h_0$."]),
        (r"h(t) = h_0(t) \exp(\alpha m)", [r"h(t) = h_0(t) \exp(\alpha m)"]),
        (r"a \frac{1}{2} b", [r"a \frac{1}{2} b"]),
        (r"\(m_i(t)\) left as text", [r"\(m_i(t)\) left as text"]),
        ("costs 5 USD, path C:/x, 50% of 1.2e-3", []),
    ],
)
def test_unrendered_math_finds_tex_left_in_prose(text: str, found: list[str]) -> None:
    assert site.unrendered_math(text) == found


def test_unrendered_math_names_each_distant_find_once() -> None:
    text = "a $ " + "x" * 200 + r" \beta b"
    finds = site.unrendered_math(text, context=5)
    assert len(finds) == 2 and finds[0].startswith("a $") and finds[1].endswith(r"\beta b")


def test_mathjax_missing_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(site.SiteError, match="libjs-mathjax"):
        site.find_mathjax(tmp_path)


def test_build_refuses_to_replace_a_folder_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(site.SiteError, match="not written by `alsmeds site`"):
        site._claim_folder(out, "site folder")
    assert (out / "thesis.tex").read_text() == "years of work"
    assert not (out / site.MARKER).exists()


def test_external_asset_urls_finds_cdn_scripts_not_links(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(
        '<script src="https://cdn.example.org/mathjax.js"></script><a href="https://doi.org/x">paper</a>'
        '<link rel="stylesheet" href="//fonts.example.com/css"><link rel="canonical" href="https://x.org/a.html">'
    )
    (tmp_path / "b.css").write_text("body { background: url('https://img.example.org/bg.png') }")
    assert site.external_asset_urls(tmp_path) == [
        "a.html: https://cdn.example.org/mathjax.js",
        "a.html: //fonts.example.com/css",
        "b.css: https://img.example.org/bg.png",
    ]


# ----------------------------------------------------------------------------- the built site


def _need(ok: bool, what: str) -> None:
    """Skip locally, fail under CI, when a prerequisite of the browser test is missing."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"CI is set but {what}: .ci/run must install it ({INSTALL}); the site test must not skip in CI")
    pytest.skip(f"{what} ({INSTALL} to run the site test)")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> site.SiteBuild:
    try:
        site.find_mathjax()
    except site.SiteError as exc:
        _need(False, f"no local MathJax ({exc})")
    out = tmp_path_factory.mktemp("site") / "site"
    return site.build_site(out, progress=False)


def test_build_wrote_every_page_and_no_external_asset(built: site.SiteBuild) -> None:
    assert built.seconds < 120, f"the site build took {built.seconds:.0f} s"
    assert built.source_dir == built.out.parent / "site-src"
    assert (built.out / "index.html").is_file()
    for nb in built.notebooks:
        assert (built.out / "notebooks" / f"{nb.stem}.html").is_file(), nb.stem
    assert [nb.number for nb in built.notebooks] == sorted(nb.number for nb in built.notebooks)
    assert len(built.figures) == len(list(paths.COMMITTED_FIGURES_DIR.glob("*.png")))
    assert (built.out / "_static" / "mathjax" / "MathJax.js").is_file()
    assert site.external_asset_urls(built.out) == []
    assert not built.warnings, "Sphinx warnings:\n" + "\n".join(built.warnings)
    index = (built.out / "index.html").read_text(encoding="utf-8")
    assert "Reproduction table" in index
    if (paths.COMMITTED_RESULTS_DIR / "reproduction.csv").is_file():
        assert built.reproduction_table and "<table" in index
    else:
        assert "does not exist" in index


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def server(built: site.SiteBuild) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(built.out))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[object]:
    chromium = shutil.which("chromium")
    _need(chromium is not None, "Debian's chromium is not on PATH")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is in requirements.txt
        _need(False, f"playwright is not importable ({exc}; run `make venv`)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()


#: Elements whose text is not prose: code, scripts, and MathJax 2's typeset output (its CommonHTML
#: rendering, the assistive MathML beside it, the preview).  TeX in the text of anything else is an error.
_NOT_PROSE = (
    "script, style, pre, code, kbd, samp, .MathJax, .MathJax_CHTML, .mjx-chtml, .MJXc-display, "
    ".MJX_Assistive_MathML, .MathJax_Preview, .MathJax_Display, .MathJax_SVG"
)

#: Script run in each page once loaded: images forced to load, MathJax finished, then facts.
_PAGE_FACTS = """
async () => {
  for (const img of document.images) { img.loading = "eager"; }
  await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
  if (window.MathJax && MathJax.Hub) {
    await new Promise(resolve => MathJax.Hub.Queue(resolve));
  }
  return {
    images: [...document.images].map(
      img => ({src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0})),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
    ids: [...document.querySelectorAll("[id], a[name]")].map(e => e.id || e.getAttribute("name")),
    mathSource: document.querySelectorAll(".math").length,
    mathRendered: document.querySelectorAll(".MJXc-display, .mjx-chtml").length,
    mathErrors: document.querySelectorAll(".mjx-merror, .MathJax_Error, merror").length,
    prose: (() => {
      const parts = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (parent && !parent.closest(NOT_PROSE)) parts.push(node.nodeValue);
      }
      return parts.join("");
    })(),
    title: document.title,
  };
}
""".replace("NOT_PROSE", json.dumps(_NOT_PROSE))


def test_every_page_in_a_browser(built: site.SiteBuild, server: str, browser) -> None:  # noqa: ANN001
    started = time.perf_counter()
    pages = sorted(
        p.relative_to(built.out).as_posix()
        for p in built.out.rglob("*.html")
        if not p.relative_to(built.out).parts[0].startswith("_")
    )
    assert "index.html" in pages and len(pages) >= len(built.notebooks) + 1
    problems: list[str] = []
    ids_by_page: dict[str, set[str]] = {}
    links_by_page: dict[str, list[str]] = {}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    host = urlsplit(server).netloc

    def guard(route) -> None:  # noqa: ANN001
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != host:
            problems.append(f"request to another host: {url}")
            route.abort()
        else:
            route.continue_()

    context.route("**/*", guard)
    page = context.new_page()
    current = {"page": ""}
    page.on("console", lambda m: m.type == "error" and problems.append(f"{current['page']}: console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"{current['page']}: uncaught: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"{current['page']}: failed: {r.url} ({r.failure})"))
    page.on(
        "response",
        lambda r: r.status >= 400 and problems.append(f"{current['page']}: HTTP {r.status}: {r.url}"),
    )
    for name in pages:
        current["page"] = name
        response = page.goto(f"{server}/{name}", wait_until="networkidle")
        assert response is not None and response.ok, f"{name}: {response and response.status}"
        facts = page.evaluate(_PAGE_FACTS)
        problems += [f"{name}: image did not load: {img['src']}" for img in facts["images"] if not img["ok"]]
        if facts["mathSource"]:
            if facts["mathRendered"] == 0:
                problems.append(f"{name}: {facts['mathSource']} math elements, none typeset by MathJax")
            if facts["mathErrors"]:
                problems.append(f"{name}: {facts['mathErrors']} MathJax errors")
        unrendered = site.unrendered_math(facts["prose"])
        problems += [f"{name}: TeX left in the text (math not rendered): {p!r}" for p in unrendered]
        ids_by_page[name] = set(facts["ids"])
        links_by_page[name] = facts["links"]
        if name == "index.html":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "index.png"), full_page=True)
            assert facts["images"] and len(facts["images"]) >= len(built.figures)
        elif name.startswith("notebooks/06_"):
            page.screenshot(path=str(SCREENSHOTS / "notebook-06.png"))
            page.locator("div.math").first.scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / "notebook-06-math.png"))
            assert facts["mathRendered"] > 0, "notebook 06 has display math"
    context.close()

    # Links: every local target exists, and an anchor into a visited page exists there.
    for name, links in links_by_page.items():
        for link in links:
            parts = urlsplit(link)
            if parts.scheme not in ("http", "https") or parts.netloc != host:
                continue  # mailto:, javascript:, external pages (links, not requests)
            target_url, fragment = urldefrag(link)
            target = unquote(urlsplit(target_url).path).lstrip("/") or "index.html"
            file = built.out / target
            if file.is_dir():
                file, target = file / "index.html", f"{target.rstrip('/')}/index.html"
            if not file.is_file():
                problems.append(f"{name}: broken link {link}")
            elif fragment and target in ids_by_page and unquote(fragment) not in ids_by_page[target]:
                problems.append(f"{name}: link to a missing anchor {link}")
    assert not problems, f"{len(problems)} problem(s) in the site:\n" + "\n".join(problems)
    assert time.perf_counter() - started < 120
    assert (SCREENSHOTS / "index.png").is_file() and (SCREENSHOTS / "notebook-06-math.png").is_file()
