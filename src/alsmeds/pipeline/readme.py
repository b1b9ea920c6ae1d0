"""Write the README's generated blocks (reproduction table, figure gallery) from the committed results and figures.

``python -m alsmeds.pipeline.readme`` (run by ``make refresh`` after the notebooks) rewrites
``README.md`` in place, atomically, when a block changed; :func:`readme_text` is the pure part.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alsmeds import paths
from alsmeds.data.write import write_text_atomic
from alsmeds.reporting.readme import generated_sections, replace_sections
from alsmeds.truth import read_truth

README = paths.ROOT / "README.md"


def notebook_titles(notebooks_dir: Path = paths.NOTEBOOKS_DIR) -> dict[str, str]:
    """Each notebook's title, by its two-digit prefix, from its own first heading (as the site reads it).

    A new notebook needs no title written anywhere else: the README's gallery and paper map
    and the site take it from here.
    """
    from alsmeds.pipeline.runner import discover_notebooks
    from alsmeds.pipeline.site import summarize_notebook

    return {path.name[:2]: summarize_notebook(path).title for path in discover_notebooks(notebooks_dir)}


def readme_text(readme: Path = README) -> str:
    """The README with its generated blocks rebuilt from ``results/``, ``figures/`` and the committed truth."""
    truth_path = paths.SYNTHETIC_DIR / "truth.json"
    truth = read_truth(truth_path) if truth_path.is_file() else None
    sections = generated_sections(
        paths.COMMITTED_RESULTS_DIR, paths.COMMITTED_FIGURES_DIR, truth, paths.ROOT, notebook_titles()
    )
    return replace_sections(readme.read_text(encoding="utf-8"), sections)


def write_readme(readme: Path = README) -> bool:
    """Rewrite the README's generated blocks; True when the file changed."""
    text = readme_text(readme)
    if text == readme.read_text(encoding="utf-8"):
        return False
    write_text_atomic(readme, text)
    return True


def main() -> int:
    changed = write_readme()
    print(f"README.md: generated blocks {'rewritten' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
