"""Static site of the executed notebooks: ``alsmeds site`` / ``make site``.

The site is a Jupyter Book 1.x book (Sphinx + myst-nb, execution off) built entirely
offline:

* an index page, generated here: each notebook's title and question, the reproduction
  table (``results/reproduction.csv``, written by the ``reproduction`` analysis), the map
  from the paper to the bundle (:func:`alsmeds.published.paper_map`) and a gallery of every
  ``figures/*.png`` captioned from its name and its notebook (the ``NN_`` prefix);
* one page per notebook, rendered from its stored outputs (never re-executed);
* MathJax 2 served from the site itself (copied from Debian's ``libjs-mathjax``), so no
  page asks any other host for anything.

The generated sources (``index.md``, ``_toc.yml``, ``_config.yml`` from the tracked
``site/`` folder, copies of the notebooks and figures) go to a folder beside the output,
``<out>-src`` (``build/site-src`` for the default ``build/site``); the HTML is built there
and copied into ``<out>``.  Nothing is written anywhere else.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alsmeds import paths
from alsmeds.pipeline.runner import NOTEBOOK_PATTERN, discover_notebooks
from alsmeds.published import paper_map, published_values
from alsmeds.reporting.readme import paper_map_markdown

#: Default output folder of the HTML site.
SITE_DIR = paths.BUILD_DIR / "site"
#: Tracked static configuration of the site (``_config.yml``, CSS).
TEMPLATE_DIR = paths.ROOT / "site"
#: Numbered notebooks, as the runner finds them.
NOTEBOOK_GLOB = NOTEBOOK_PATTERN
#: Environment variable naming a MathJax 2 folder (one holding ``MathJax.js``).
MATHJAX_ENV = "ALSMEDS_MATHJAX_DIR"
#: Where Debian's ``libjs-mathjax`` (and other distributions' packages) put MathJax 2.
MATHJAX_CANDIDATES = (Path("/usr/share/javascript/mathjax"), Path("/usr/share/mathjax"))
#: The parts of MathJax 2 that ``MathJax.js?config=TeX-AMS_CHTML`` loads (about 1.7 MB of 54).
MATHJAX_PARTS = (
    "MathJax.js",
    "config/TeX-AMS_CHTML.js",
    "extensions",
    "jax/element",
    "jax/input/TeX",
    "jax/output/CommonHTML",
    "jax/output/PreviewHTML",
    "fonts/HTML-CSS/TeX/woff",
    "localization/en",
)
#: Folder of the sources copied as is into the site (Sphinx ``html_extra_path``).  MathJax goes
#: there, not into the book's ``_static``, from which Jupyter Book would add every ``.js`` file
#: to every page as a script.
MATHJAX_EXTRA = "_extra"
#: File marking a folder as one this module wrote (so that rebuilding may replace it).
MARKER = ".alsmeds-site"
QUESTION_PREFIX = "**Question for the journal club.**"

#: Columns of ``reproduction.csv`` shown on the index, in order (those present are shown).
REPRODUCTION_COLUMNS = (
    "target",
    "description",
    "published",
    "published_lower",
    "published_upper",
    "estimate",
    "ci_lower",
    "ci_upper",
    "published_in_ci",
    "status",
)


class SiteError(Exception):
    """The site cannot be built; the message names what is wrong and what to do."""


class SiteBuildFailed(SiteError):
    """The inputs were fine but Jupyter Book or Sphinx failed (the message ends with its output)."""


@dataclass(frozen=True)
class NotebookSummary:
    """What the index says about one notebook.

    Attributes
    ----------
    path : Path
        The notebook file.
    number : str
        Its two-digit prefix (``"03"``).
    title : str
        Text of the first markdown cell's ``#`` heading.
    question : str
        The paragraph starting with the journal-club question (prefix removed), or the
        first paragraph after the title; Markdown.
    """

    path: Path
    number: str
    title: str
    question: str

    @property
    def stem(self) -> str:
        """File name without ``.ipynb`` (the page's name in the site)."""
        return self.path.stem


@dataclass
class SiteBuild:
    """Outcome of :func:`build_site`.

    Attributes
    ----------
    out : Path
        Folder of the HTML site (open ``out / "index.html"``).
    source_dir : Path
        Folder of the generated sources.
    notebooks : list of NotebookSummary
        Notebooks on the site, in order.
    figures : list of Path
        Figures in the gallery.
    reproduction_table : bool
        Whether the index shows the reproduction table.
    warnings : list of str
        Warnings printed by Sphinx.
    seconds : float
        Wall time of the build.
    """

    out: Path
    source_dir: Path
    notebooks: list[NotebookSummary]
    figures: list[Path]
    reproduction_table: bool
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


# ----------------------------------------------------------------------------- reading


def _paragraphs(markdown: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n[ \t]*\n", markdown) if p.strip()]


def summarize_notebook(path: str | Path) -> NotebookSummary:
    """Read a notebook's title and question.

    Parameters
    ----------
    path : str or Path
        A numbered notebook, ``NN_name.ipynb``.

    Returns
    -------
    NotebookSummary
        Title from the first markdown cell's ``# `` heading; question from the paragraph
        that starts with ``**Question for the journal club.**`` (anywhere in that cell),
        else the first paragraph after the title.

    Raises
    ------
    SiteError
        When the file is not a readable notebook, its name has no ``NN_`` prefix, or its
        first markdown cell has no ``# `` title.
    """
    path = Path(path)
    match = re.match(r"(\d\d)_", path.name)
    if not match:
        raise SiteError(f"{path}: a notebook of the site must be named NN_name.ipynb")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SiteError(f"{path}: not a readable notebook ({exc})") from exc
    markdown = next((c for c in cells if c.get("cell_type") == "markdown"), None)
    if markdown is None:
        raise SiteError(f"{path}: no markdown cell, so no title for the site (start with '# NN · Title')")
    source = markdown.get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    paragraphs = _paragraphs(text)
    if not paragraphs or not paragraphs[0].startswith("# "):
        raise SiteError(f"{path}: the first markdown cell does not start with a '# ' title")
    title_line, _, rest = paragraphs[0].partition("\n")
    title = title_line[2:].strip()
    body = ([rest.strip()] if rest.strip() else []) + paragraphs[1:]
    question = next((p for p in body if p.startswith(QUESTION_PREFIX)), None)
    if question is not None:
        question = question[len(QUESTION_PREFIX) :].strip()
        # The index sits one folder above the notebooks: a relative link (the glossary) must say so.
        question = re.sub(r"\]\((?![a-z]+:|/|#)([^)]+)\)", r"](notebooks/\1)", question)
    else:
        question = body[0] if body else ""
    return NotebookSummary(path=path, number=match.group(1), title=title, question=question)


def find_notebooks(notebooks_dir: str | Path) -> list[Path]:
    """The numbered notebooks of a folder, in order.

    Parameters
    ----------
    notebooks_dir : str or Path
        Folder of ``NN_*.ipynb`` notebooks.

    Returns
    -------
    list of Path
        Sorted by name.

    Raises
    ------
    SiteError
        When the folder does not exist or holds no numbered notebook.
    """
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        raise SiteError(f"no notebooks folder {folder}")
    found = discover_notebooks(folder)  # the runner's rule: a failed run's partial copy is not a notebook
    if not found:
        raise SiteError(f"no notebooks matching {NOTEBOOK_GLOB} in {folder}")
    return found


def figure_caption(figure: str | Path, notebooks: Mapping[str, NotebookSummary]) -> str:
    """A figure's caption from its file name.

    Parameters
    ----------
    figure : str or Path
        ``NN_some_name.png``.
    notebooks : mapping of str to NotebookSummary
        Notebooks by number (``"01"``).

    Returns
    -------
    str
        ``"Some name (notebook NN)"``; ``"Some name"`` alone when the name has no
        ``NN_`` prefix, and ``"(no notebook NN)"`` when no notebook has that number.

    Examples
    --------
    >>> figure_caption("05_km_by_use.png", {})
    'Km by use (no notebook 05)'
    """
    stem = Path(figure).stem
    match = re.match(r"(\d\d)_(.+)", stem)
    words = (match.group(2) if match else stem).replace("_", " ").replace("-", " ").strip()
    label = words[:1].upper() + words[1:]
    if not match:
        return label
    number = match.group(1)
    return f"{label} (notebook {number})" if number in notebooks else f"{label} (no notebook {number})"


def _number(value: str) -> str:
    """Table text of a number: integers as they are, else 2 decimals below 10 and 3 digits above."""
    try:
        x = float(value)
    except ValueError:
        return value
    if x != x:  # NaN
        return ""
    if x == int(x) and abs(x) >= 10:
        return f"{int(x):d}"
    if abs(x) >= 10:
        return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"
    return f"{x:.2f}" if abs(x) >= 0.1 or x == 0 else f"{x:.3g}"


def _with_interval(row: Mapping[str, str], value: str, lower: str, upper: str) -> str:
    text = _number(row.get(value, "") or "")
    lo, hi = (_number(row.get(c, "") or "") for c in (lower, upper))
    if text and lo and hi:
        return f"{text} ({lo}\N{EN DASH}{hi})"
    return text


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _yes_no_in_ci(row: Mapping[str, str]) -> str:
    """``published_in_ci`` as ``yes``/``no`` (empty when there is no interval to hold it against)."""
    value = str(row.get("published_in_ci", "")).strip().lower()
    return {"true": "yes", "false": "no", "1": "yes", "0": "no", "1.0": "yes", "0.0": "no"}.get(value, "")


def reproduction_markdown(csv_path: str | Path) -> tuple[str, bool]:
    """The index's reproduction section body, from ``reproduction.csv``.

    Parameters
    ----------
    csv_path : str or Path
        The file notebook 08 writes (columns such as ``target``, ``description``,
        ``published``, ``published_lower``, ``published_upper``, ``estimate``,
        ``ci_lower``, ``ci_upper``, ``status``).

    Returns
    -------
    markdown : str
        A table of the known columns the file has (a published value and its interval
        in one column, likewise the estimate), or a sentence saying why there is none.
    has_table : bool
        Whether a table was rendered.
    """
    csv_path = Path(csv_path)
    shown = paths.display_path(csv_path)
    if not csv_path.is_file():
        return (f"No reproduction table: `{shown}` does not exist (notebook 08 writes it).", False)
    try:
        with csv_path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = list(reader.fieldnames or [])
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return (f"No reproduction table: `{shown}` could not be read ({exc}).", False)
    present = [c for c in REPRODUCTION_COLUMNS if c in columns]
    if not present or not rows:
        why = "has no rows" if present else f"has none of the columns {', '.join(REPRODUCTION_COLUMNS)}"
        return (f"No reproduction table: `{shown}` {why}.", False)

    headers: list[tuple[str, Callable[[Mapping[str, str]], str]]] = []
    for column in present:
        if column in ("published_lower", "published_upper", "ci_lower", "ci_upper"):
            if column == "published_lower" and "published" not in present:
                headers.append(
                    ("Published interval", lambda r: _with_interval(r, "", "published_lower", "published_upper"))
                )
            if column == "ci_lower" and "estimate" not in present:
                headers.append(("95% CI", lambda r: _with_interval(r, "", "ci_lower", "ci_upper")))
            continue
        if column == "published":
            has_ci = {"published_lower", "published_upper"} <= set(present)
            label = "Published (95% CI)" if has_ci else "Published"
            headers.append((label, lambda r: _with_interval(r, "published", "published_lower", "published_upper")))
        elif column == "estimate":
            has_ci = {"ci_lower", "ci_upper"} <= set(present)
            label = "This bundle (95% CI)" if has_ci else "This bundle"
            headers.append((label, lambda r: _with_interval(r, "estimate", "ci_lower", "ci_upper")))
        elif column == "published_in_ci":
            headers.append(("Published value in our 95% CI", _yes_no_in_ci))
        else:
            headers.append((column.capitalize(), lambda r, c=column: r.get(c, "") or ""))
    lines = [
        f"From `{shown}` ({len(rows)} targets). Intervals are 95% confidence intervals.",
        "",
        "| " + " | ".join(h for h, _ in headers) + " |",
        "|" + "---|" * len(headers),
    ]
    for row in rows:
        cells = [(f"`{_cell(get(row))}`" if h == "Target" and get(row) else _cell(get(row))) for h, get in headers]
        lines.append("| " + " | ".join(cells) + " |")
    return ("\n".join(lines), True)


# ----------------------------------------------------------------------------- generated sources


def _link_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def index_markdown(notebooks: Sequence[NotebookSummary], figures: Sequence[Path], reproduction: str) -> str:
    """The index page (MyST Markdown).

    Parameters
    ----------
    notebooks : sequence of NotebookSummary
        In order; pages are ``notebooks/<stem>``.
    figures : sequence of Path
        Gallery figures; referenced as ``figures/<name>``.
    reproduction : str
        Body of the reproduction section (see :func:`reproduction_markdown`).

    Returns
    -------
    str
        Markdown text.
    """
    by_number = {nb.number: nb for nb in notebooks}
    out = [
        "# Psychiatric medications and ALS: the executed notebooks",
        "",
        "A reproduction, on simulated Swedish registers, of Chourpiliadis et al. (JAMA Netw Open 2025). "
        "Every page below is a notebook of the bundle as it was executed; nothing here is re-run. "
        "All data are synthetic.",
        "",
        "## The notebooks and their questions",
        "",
    ]
    for nb in notebooks:
        out += [
            "```{rst-class} alsmeds-question",
            "```",
            f"### [{_link_text(nb.title)}](notebooks/{nb.stem}.ipynb)",
            "",
            nb.question,
            "",
        ]
    out += ["## Reproduction table", "", reproduction, "", "## From the paper to the bundle", ""]
    out += [
        "Each published table, figure and number, and the notebook section, results file and figure that "
        "reproduce it (`src/alsmeds/paper_map.csv`).",
        "",
        paper_map_markdown(paper_map(), published_values(), {nb.number: nb.title for nb in notebooks}),
        "",
        "## Figure gallery",
        "",
    ]
    if not figures:
        out += ["No figures found.", ""]
    else:
        out += ["::::{grid} 1 2 2 2", ":gutter: 3", ":class-container: alsmeds-gallery", ""]
        for fig in figures:
            caption = figure_caption(fig, by_number)
            number = fig.name[:2]
            nb = by_number.get(number)
            short = nb.title.split(":")[0] if nb else ""
            source = f"[{_link_text(short)}](notebooks/{nb.stem}.ipynb) · " if nb else ""
            out += [
                f":::{{grid-item-card}} {caption}",
                f":img-top: figures/{fig.name}",
                f":img-alt: {fig.name}",
                "",
                f"{source}[full size](figures/{fig.name})",
                ":::",
                "",
            ]
        out += ["::::", ""]
    return "\n".join(out)


#: The notebooks' glossary, in the notebooks folder (linked as ``glossary.md#<entry>``).
GLOSSARY_FILE = "glossary.md"


def toc_yaml(notebooks: Sequence[NotebookSummary], glossary: bool = False) -> str:
    """The book's ``_toc.yml``: the index, then each notebook page, then the glossary if there is one.

    Parameters
    ----------
    notebooks : sequence of NotebookSummary
        In order.
    glossary : bool
        Add the page ``notebooks/glossary`` (the notebooks' ``glossary.md``).

    Returns
    -------
    str
        YAML text.
    """
    lines = ["# Generated by alsmeds.pipeline.site", "format: jb-book", "root: index", "chapters:"]
    lines += [f"  - file: notebooks/{nb.stem}" for nb in notebooks]
    if glossary:
        lines.append(f"  - file: notebooks/{GLOSSARY_FILE.removesuffix('.md')}")
    return "\n".join(lines) + "\n"


def find_mathjax(explicit: str | Path | None = None) -> Path:
    """The MathJax 2 folder to copy into the site.

    Parameters
    ----------
    explicit : str or Path, optional
        A folder holding ``MathJax.js``; else ``$ALSMEDS_MATHJAX_DIR``, else Debian's
        ``/usr/share/javascript/mathjax``.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    SiteError
        When none holds MathJax 2 (``MathJax.js`` and ``config/TeX-AMS_CHTML.js``).
    """
    if explicit is not None:
        candidates: Iterable[Path] = [Path(explicit)]
    elif os.environ.get(MATHJAX_ENV):
        candidates = [Path(os.environ[MATHJAX_ENV])]
    else:
        candidates = MATHJAX_CANDIDATES
    candidates = list(candidates)
    for folder in candidates:
        if (folder / "MathJax.js").is_file() and (folder / "config" / "TeX-AMS_CHTML.js").is_file():
            return folder
    tried = ", ".join(str(c) for c in candidates)
    raise SiteError(
        f"no MathJax 2 found (looked in {tried}): the site renders its math with a local MathJax, never a CDN. "
        f"On Debian/Ubuntu: apt-get install --no-install-recommends libjs-mathjax; elsewhere point "
        f"{MATHJAX_ENV} (or --mathjax) at a MathJax 2.7 folder holding MathJax.js"
    )


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write ``data`` unless the file already holds it (unchanged mtimes let Sphinx rebuild less)."""
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _check_folder(folder: Path, what: str) -> None:
    """Refuse a folder that exists and is neither empty nor marked as written by this module."""
    if folder.exists() and not folder.is_dir():
        raise SiteError(f"{what} {folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MARKER).is_file():
        raise SiteError(
            f"{what} {folder} is not empty and was not written by `alsmeds site` (no {MARKER} file): "
            "choose another --out or remove it"
        )


def _claim_folder(folder: Path, what: str) -> None:
    """Make ``folder`` ours: create it, or accept it if empty or marked (see :func:`_check_folder`)."""
    _check_folder(folder, what)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("written by alsmeds.pipeline.site; replaced on every build\n", encoding="utf-8")


def prepare_sources(
    source_dir: Path,
    notebooks: Sequence[NotebookSummary],
    figures: Sequence[Path],
    reproduction: str,
    mathjax_dir: Path,
    template_dir: Path = TEMPLATE_DIR,
) -> None:
    """Write the book's sources into ``source_dir`` (and nowhere else).

    Files whose content did not change are left alone, and files that no longer belong
    (a removed notebook or figure) are deleted, so that Sphinx rebuilds only what changed.

    Parameters
    ----------
    source_dir : Path
        Folder of the generated sources (claimed with a marker file).
    notebooks : sequence of NotebookSummary
        Notebooks to copy into ``notebooks/``.
    figures : sequence of Path
        Figures to copy into ``figures/``.
    reproduction : str
        Body of the reproduction section of the index.
    mathjax_dir : Path
        MathJax 2 folder (see :func:`find_mathjax`).
    template_dir : Path
        Folder with ``_config.yml``, ``*.css`` (into ``_static/``) and ``favicon.*``.
    """
    config = template_dir / "_config.yml"
    if not config.is_file():
        raise SiteError(f"no site configuration {config}")
    _claim_folder(source_dir, "site sources folder")
    wanted: set[Path] = {source_dir / MARKER, source_dir / "conf.py"}

    def put(relative: str, data: bytes) -> None:
        target = source_dir / relative
        _write_if_changed(target, data)
        wanted.add(target)

    put("_config.yml", config.read_bytes())
    # The glossary the notebooks link to (glossary.md#entry) sits beside them, in the site too.
    glossary = notebooks[0].path.parent / GLOSSARY_FILE if notebooks else None
    if glossary is not None and glossary.is_file():
        put(f"notebooks/{GLOSSARY_FILE}", glossary.read_bytes())
    put("_toc.yml", toc_yaml(notebooks, glossary=glossary is not None and glossary.is_file()).encode())
    put("index.md", index_markdown(notebooks, figures, reproduction).encode())
    for css in sorted(template_dir.glob("*.css")):
        put(f"_static/{css.name}", css.read_bytes())
    for icon in sorted(template_dir.glob("favicon.*")):
        put(icon.name, icon.read_bytes())
    for nb in notebooks:
        put(f"notebooks/{nb.path.name}", nb.path.read_bytes())
    for fig in figures:
        put(f"figures/{fig.name}", fig.read_bytes())
    for part in MATHJAX_PARTS:
        origin = mathjax_dir / part
        if origin.is_file():
            put(f"{MATHJAX_EXTRA}/_static/mathjax/{part}", origin.read_bytes())
        elif origin.is_dir():
            for file in sorted(p for p in origin.rglob("*") if p.is_file()):
                put(f"{MATHJAX_EXTRA}/_static/mathjax/{part}/{file.relative_to(origin).as_posix()}", file.read_bytes())
        else:
            raise SiteError(f"MathJax folder {mathjax_dir} lacks {part}: not a complete MathJax 2.7")
    # Remove stale sources (the Sphinx output folder _build is kept for incremental builds).
    for path in sorted(source_dir.rglob("*"), reverse=True):
        if path.relative_to(source_dir).parts[0] == "_build":
            continue
        if path.is_file() and path not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


# ----------------------------------------------------------------------------- building


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PROGRESS = re.compile(r"^(reading sources|writing output)\.\.\. \[")


def _run(command: Sequence[str], what: str, cwd: Path, *, progress: bool) -> list[str]:
    """Run a build step, echoing its progress and warnings on stderr; return its warnings."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    lines: list[str] = []
    warnings: list[str] = []
    with subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd
    ) as proc:
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                line = _ANSI.sub("", raw.rstrip("\n").split("\r")[-1])
                lines.append(line)
                if "WARNING" in line or "ERROR" in line:
                    warnings.append(line)
                    print(f"  {line}", file=sys.stderr, flush=True)
                elif progress and _PROGRESS.match(line):
                    print(f"  {line}", file=sys.stderr, flush=True)
        except BaseException:
            proc.kill()
            raise
    if proc.returncode != 0:
        tail = "\n".join(f"  {line}" for line in lines[-30:])
        raise SiteBuildFailed(f"{what} failed (exit {proc.returncode}) in {cwd}:\n{tail}")
    return warnings


def build_html(source_dir: Path, template_dir: Path = TEMPLATE_DIR, *, progress: bool = True) -> tuple[Path, list[str]]:
    """Build the HTML of prepared sources: Jupyter Book's Sphinx configuration, then Sphinx.

    ``jupyter-book config sphinx`` turns ``_config.yml`` into ``conf.py``; the tracked
    ``site/conf_overrides.py`` is appended (it drops the extensions that would reach other
    hosts); ``sphinx-build`` writes ``_build/html`` (and reuses ``_build/doctrees`` when
    the sources did not change).

    Parameters
    ----------
    source_dir : Path
        Folder written by :func:`prepare_sources`.
    template_dir : Path
        Folder with ``conf_overrides.py``.
    progress : bool
        Echo Sphinx's reading and writing steps on stderr (warnings are always echoed).

    Returns
    -------
    html_dir : Path
        ``source_dir / "_build" / "html"``.
    warnings : list of str
        Warning lines of the build.

    Raises
    ------
    SiteError
        When a step fails (with the end of its output).
    """
    overrides = template_dir / "conf_overrides.py"
    if not overrides.is_file():
        raise SiteError(f"no {overrides}")
    python = sys.executable
    cli = "import sys; from jupyter_book.cli.main import main; sys.exit(main())"
    warnings = _run(
        [python, "-c", cli, "config", "sphinx", str(source_dir)],
        "jupyter-book config sphinx",
        source_dir,
        progress=False,
    )
    conf = source_dir / "conf.py"
    conf.write_text(conf.read_text(encoding="utf-8") + "\n" + overrides.read_text(encoding="utf-8"), encoding="utf-8")
    html_dir = source_dir / "_build" / "html"
    command = [
        python,
        "-m",
        "sphinx",
        "-b",
        "html",
        "-d",
        str(source_dir / "_build" / "doctrees"),
        str(source_dir),
        str(html_dir),
    ]
    warnings += _run(command, "sphinx-build", source_dir, progress=progress)
    return html_dir, warnings


def _replace_folder(built: Path, out: Path) -> None:
    """Copy ``built`` to ``out``: into a hidden sibling first, then swapped in place of the old site."""
    _claim_folder(out, "site folder")  # refuse to replace a folder that is not a site
    staging = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(built, staging)
        (staging / MARKER).write_text("written by alsmeds.pipeline.site; replaced on every build\n", encoding="utf-8")
        out.rename(old)
        staging.rename(out)
    finally:
        if old.exists() and not out.exists():  # interrupted between the two renames
            old.rename(out)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def build_site(
    out: str | Path = SITE_DIR,
    *,
    notebooks_dir: str | Path = paths.NOTEBOOKS_DIR,
    figures_dir: str | Path = paths.COMMITTED_FIGURES_DIR,
    results_dir: str | Path = paths.COMMITTED_RESULTS_DIR,
    mathjax_dir: str | Path | None = None,
    source_dir: str | Path | None = None,
    progress: bool = True,
) -> SiteBuild:
    """Build the static site of the executed notebooks.

    Parameters
    ----------
    out : str or Path
        Output folder of the HTML (default ``build/site``); replaced as a whole.  A
        non-empty folder not written by this function is refused.
    notebooks_dir : str or Path
        Executed ``NN_*.ipynb`` notebooks (default ``notebooks/``); shown as they are.
    figures_dir : str or Path
        Folder of ``*.png`` figures for the gallery (default ``figures/``).
    results_dir : str or Path
        Folder holding ``reproduction.csv`` (default ``results/``); the index says so
        when the file is missing.
    mathjax_dir : str or Path, optional
        MathJax 2 folder (see :func:`find_mathjax`).
    source_dir : str or Path, optional
        Folder for the generated sources; default ``<out>-src`` beside ``out``.
    progress : bool
        Print the build's stages on stderr.

    Returns
    -------
    SiteBuild
        Where the site is and what it holds.

    Raises
    ------
    SiteError
        For a missing input, a missing MathJax, or a failed Jupyter Book build.
    """
    start = time.perf_counter()
    out = Path(out).resolve()
    source = Path(source_dir).resolve() if source_dir is not None else out.parent / f"{out.name}-src"
    if source == out or source.is_relative_to(out) or out.is_relative_to(source):
        raise SiteError(f"the sources folder {source} and the site folder {out} must not contain each other")
    _check_folder(out, "site folder")  # before the build, not after it
    _check_folder(source, "site sources folder")

    def say(message: str) -> None:
        if progress:
            print(f"site: {message}", file=sys.stderr, flush=True)

    notebooks = [summarize_notebook(p) for p in find_notebooks(notebooks_dir)]
    figures_dir = Path(figures_dir)
    figures = sorted(figures_dir.glob("*.png")) if figures_dir.is_dir() else []
    reproduction, has_table = reproduction_markdown(Path(results_dir) / "reproduction.csv")
    mathjax = find_mathjax(mathjax_dir)
    say(
        f"{len(notebooks)} notebooks from {paths.display_path(notebooks_dir)}, {len(figures)} figures, "
        f"reproduction table {'from' if has_table else 'missing in'} {paths.display_path(results_dir)}"
    )
    say(f"writing sources to {paths.display_path(source)}")
    prepare_sources(source, notebooks, figures, reproduction, mathjax)
    say("building HTML with Jupyter Book (5-10 s on 2 cores)")
    built, warnings = build_html(source, progress=progress)
    if not (built / "index.html").is_file():
        raise SiteBuildFailed(f"the build wrote no {built / 'index.html'}")
    _replace_folder(built, out)
    seconds = time.perf_counter() - start
    say(f"done in {seconds:.0f} s: {paths.display_path(out / 'index.html')} ({len(warnings)} warnings)")
    return SiteBuild(
        out=out,
        source_dir=source,
        notebooks=notebooks,
        figures=figures,
        reproduction_table=has_table,
        warnings=warnings,
        seconds=seconds,
    )


#: Text that means math was not typeset: a dollar sign, a TeX command (``\frac``, ``\alpha``) or
#: a TeX delimiter (``\(``, ``\[``) left in a page's prose.
UNRENDERED_MATH = re.compile(r"\$|\\(?:[A-Za-z]+|[()\[\]])")


def unrendered_math(text: str, context: int = 40) -> list[str]:
    r"""Passages of a page's visible prose that show TeX source instead of typeset math.

    A notebook's math is written between ``$`` signs; on the site MyST turns it into math
    elements that MathJax typesets.  Math MyST did not recognise (display math inside a list
    paragraph, say) reaches the reader as ``$``, ``\alpha`` or ``\frac{...}`` in the text.
    The browser test collects each page's text outside code blocks and MathJax's own output
    and fails on any passage found here.

    Parameters
    ----------
    text : str
        The visible text of a page, without its code and its typeset math.
    context : int
        Characters shown on each side of a find.

    Returns
    -------
    list of str
        One passage per find, finds whose passages overlap merged (whitespace collapsed);
        empty when the text shows no TeX.

    Examples
    --------
    >>> unrendered_math("the hazard $h_0$ and the association alpha")
    ['the hazard $h_0$ and the association alpha']
    >>> unrendered_math(r"exp(\alpha m)", context=3)
    ['xp(\\alpha m)']
    >>> unrendered_math("typeset math leaves no source behind")
    []
    """
    spans: list[list[int]] = []
    for match in UNRENDERED_MATH.finditer(text):
        start, end = max(0, match.start() - context), match.end() + context
        if spans and start <= spans[-1][1]:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [" ".join(text[start:end].split()) for start, end in spans]


def external_asset_urls(site: str | Path) -> list[str]:
    """Asset URLs on another host in the site's HTML, CSS and JavaScript (should be none).

    Looks for ``src=``, ``<link href=>`` and CSS ``url()`` / ``@import`` pointing at
    ``http(s)://`` or ``//`` hosts.  Plain ``<a href>`` links are not assets.

    Parameters
    ----------
    site : str or Path
        A built site folder.

    Returns
    -------
    list of str
        ``"file: url"`` for each one found.
    """
    site = Path(site)
    patterns = [
        re.compile(
            r"""<(?:script|img|iframe|source|video|audio)\b[^>]*\bsrc\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""", re.I
        ),
        re.compile(r"""<link\b[^>]*\bhref\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""", re.I),
        re.compile(r"""url\(\s*["']?((?:https?:)?//[^"')\s]+)""", re.I),
        re.compile(r"""@import\s+["']((?:https?:)?//[^"']+)""", re.I),
    ]
    found = []
    for path in sorted(site.rglob("*")):
        if path.suffix not in (".html", ".css") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".html":
            # <link rel="canonical"/"alternate"> are not fetched; keep only stylesheets, icons, preloads.
            text = re.sub(r"""<link\b(?=[^>]*\brel\s*=\s*["']?(?:canonical|alternate)\b)[^>]*>""", "", text, flags=re.I)
        for pattern in patterns:
            for url in pattern.findall(text):
                found.append(f"{path.relative_to(site).as_posix()}: {html.unescape(url)}")
    return found
