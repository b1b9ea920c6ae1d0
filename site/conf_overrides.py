# Appended by alsmeds.pipeline.site to the conf.py that `jupyter-book config sphinx` writes
# from _config.yml, before sphinx-build runs.  Jupyter Book 1.x always loads these extensions;
# the site is static and offline and uses none of them:
# - sphinx_thebe puts a script naming a CDN (thebe on unpkg) into every page, twice with
#   Sphinx 7, which the browser reports as an error ("THEBE_JS_URL has already been declared");
# - sphinx_comments (hypothesis, utterances) would load scripts from other hosts;
# - sphinx.ext.intersphinx has no mapping to fetch; sphinx_jupyterbook_latex is for PDF builds.
extensions = [  # noqa: F821 - defined by the generated part of conf.py
    name
    for name in extensions  # noqa: F821
    if name not in {"sphinx_thebe", "sphinx_comments", "sphinx.ext.intersphinx", "sphinx_jupyterbook_latex"}
]
