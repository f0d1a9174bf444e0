"""Sphinx configuration of the pmdtheory documentation (``make docs``).

The site is built from the committed sources only: the notebooks are rendered from
their executed ``.ipynb`` copies (never re-executed), ``paper_repro/REPORT.md`` and
``figures/`` are included as they are, and MathJax is served from the site itself
(``sphinx-mathjax-offline``), so pages render without a network.

The API pages are generated here, before the build: every public module (no
component starting with ``_``) that declares ``__all__`` gets a page listing its
``__all__`` names, and each object is documented once, under the shortest public
path that exports it (``pmdtheory.exact_update``, not ``pmdtheory.updates.exact_update``).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pmdtheory  # noqa: E402

project = "pmdtheory"
author = "pmdtheory developers"
copyright = "2026, pmdtheory developers"
release = pmdtheory.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_nb",
    "sphinx-mathjax-offline",  # copies MathJax 3 into _static/: formulas render offline
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md"]
root_doc = "index"

# --- autodoc / numpydoc -------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc "Parameters" sections carry the types
numpydoc_show_class_members = False  # methods are listed by the autosummary class template
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
add_module_names = False

# --- myst / myst-nb -----------------------------------------------------------------
nb_execution_mode = "off"  # render the committed, executed notebooks as they are
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_merge_streams = True

# --- HTML ---------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"pmdtheory {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path: list[str] = []
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}  # offline: no inventories

# --- generated sources --------------------------------------------------------------
#: public modules whose import needs an optional extra that may be absent
OPTIONAL_MODULES = {"pmdtheory.bridge": "torch", "pmdtheory.bridge.llm": "transformers",
                    "pmdtheory.bridge.trl": "trl", "pmdtheory.bridge.verl": "torch"}  # fmt: skip
#: modules that are command-line entry points, documented on the getting-started page
SKIP_MODULES = {"pmdtheory.__main__"}


def public_modules() -> list[str]:
    """Every importable public module of the package, shortest paths first."""
    names = ["pmdtheory"]
    for info in pkgutil.walk_packages(pmdtheory.__path__, "pmdtheory."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts) or info.name in SKIP_MODULES:
            continue
        names.append(info.name)
    return sorted(names, key=lambda n: (n.count("."), n))


def write_api_pages() -> list[str]:
    """Write ``api/<module>.rst`` for each public module with new ``__all__`` names."""
    out = DOCS / "api"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    seen: dict[tuple[int, str], str] = {}
    pages = []
    for name in public_modules():
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            if name in OPTIONAL_MODULES:
                print(f"docs: skipping {name} ({exc}); install the extra it needs")
                continue
            raise
        exported = getattr(module, "__all__", None)
        if exported is None:
            continue
        own = []
        for item in exported:
            key = (id(getattr(module, item)), item)  # the same object under the same name
            if key not in seen:
                seen[key] = f"{name}.{item}"
                own.append(item)
        if not own and name != "pmdtheory":
            continue
        title = f"``{name}``"
        lines = [title, "=" * len(title), "", f".. automodule:: {name}", "   :no-members:", ""]
        lines += [".. currentmodule:: " + name, "", ".. autosummary::", "   :toctree: generated",
                  "   :template: pmd-item.rst", ""]  # fmt: skip
        lines += [f"   {item}" for item in own]
        (out / f"{name}.rst").write_text("\n".join(lines) + "\n")
        pages.append(name)
    index = ["API reference", "=============", "",
             "Every public function, class and constant, each under the shortest import path",
             "that exports it. The ``Examples`` sections run as doctests in ``make test``.", "",
             ".. toctree::", "   :maxdepth: 1", ""]  # fmt: skip
    index += [f"   {p}" for p in pages]
    (out / "index.rst").write_text("\n".join(index) + "\n")
    return pages


def copy_sources() -> None:
    """Copy the rendered notebooks into the source tree (they live in ``notebooks/``)."""
    target = DOCS / "notebooks"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        shutil.copy2(nb, target / nb.name)


def constant_docs() -> dict[str, dict[str, list[str]]]:
    """The ``#:`` comments of module-level constants, per module: ``{module: {name: lines}}``.

    A re-exported constant (``pmdtheory.sim.COLUMNS`` is defined in ``sim/run.py``)
    carries no docstring of its own, and autodoc would show its type's (``tuple``).
    """
    from sphinx.errors import PycodeError
    from sphinx.pycode import ModuleAnalyzer

    found = {}
    for info in [*pkgutil.walk_packages(pmdtheory.__path__, "pmdtheory."), None]:
        name = "pmdtheory" if info is None else info.name
        if name.endswith("__main__"):  # importing it would run the command line
            continue
        try:
            analyzer = ModuleAnalyzer.for_module(name)
            attr_docs = analyzer.find_attr_docs()
        except PycodeError:
            continue
        found[name] = {attr: list(lines) for (ns, attr), lines in attr_docs.items() if not ns}
    return found


CONSTANT_DOCS = constant_docs()


def document_constant(app, what, name, obj, options, lines) -> None:
    """Give a re-exported constant the ``#:`` comment written where it is defined."""
    if what != "data":
        return
    module, attr = name.rsplit(".", 1)
    # the documented module first, then its submodules, then any module of the package
    order = sorted(CONSTANT_DOCS, key=lambda m: (m != module, not m.startswith(module + ".")))
    for candidate in order:
        if attr in CONSTANT_DOCS[candidate]:
            lines[:] = CONSTANT_DOCS[candidate][attr]
            return
    if "\n".join(lines).strip() == (type(obj).__doc__ or "").strip():
        lines[:] = []  # no comment anywhere: show the value only, not the type's docstring


#: "THEORY §4", "THEORY.md §8.3", "../shared/THEORY.md §3" (older docstrings) -> a link
THEORY_CITATION = re.compile(r"(?:\.\./shared/)?THEORY(?:\.md)? §(\d+)(?:\.(\d+))?")


def link_theory(app, what, name, obj, options, lines) -> None:
    """Turn each "THEORY §n" of a docstring into a link to that section of theory.md."""

    def to_ref(match: re.Match) -> str:
        section, sub = match.group(1), match.group(2)
        label = f"theory-s{section}" + (f"-{sub}" if sub else "")
        text = f"THEORY §{section}" + (f".{sub}" if sub else "")
        return f":ref:`{text} <{label}>`"

    lines[:] = [THEORY_CITATION.sub(to_ref, line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", document_constant)
    app.connect("autodoc-process-docstring", link_theory)


templates_path = ["_templates"]
write_api_pages()
copy_sources()
