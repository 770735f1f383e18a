"""Sphinx configuration for maskprep's documentation site (built by scripts/docs.sh).

At build time (``builder-inited``) it renders, into docs/_generated/ (ignored by git):
- the gallery: overlays of the bundled sample's masks on its photos, made with
  ``maskprep.visualize.overlay``;
- the benchmark plot and ratio table from the numbers recorded in benchmarks/README.md
  (docs/bench_recorded.json, pytest-benchmark's layout), drawn by ``maskprep.benchreport`` as
  ``maskprep bench`` draws them. No benchmark runs during a build.
"""

from __future__ import annotations

import json
from pathlib import Path

import maskprep

DOCS = Path(__file__).resolve().parent
GENERATED = DOCS / "_generated"

project = "maskprep"
author = "maskprep developers"
copyright = "maskprep developers, BSD-3-Clause"  # noqa: A001 - Sphinx's name
release = maskprep.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# numpy-style docstrings (Raises, Examples); napoleon also reads the Google-style ones of the
# modules not converted yet, so every page renders while they move over.
napoleon_numpy_docstring = True
napoleon_google_docstring = True
napoleon_use_rtype = False
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autosummary_generate = False

html_theme = "pydata_sphinx_theme"
html_title = f"maskprep {release}"
html_static_path = ["_static"]
html_css_files = ["maskprep.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False


def _gallery() -> None:
    """One overlay PNG per sample photo, and the Markdown page section that shows them."""
    import numpy as np
    from PIL import Image

    from maskprep import rle, visualize

    sample = Path(maskprep.__file__).parent / "data" / "sample"
    data = json.loads((sample / "instances.json").read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    out = GENERATED / "gallery"
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for im in sorted(data["images"], key=lambda im: im["file_name"]):
        anns = [a for a in data["annotations"] if a["image_id"] == im["id"]]
        rles = rle.from_segmentations(
            [a["segmentation"] for a in anns], im["height"], im["width"]
        )
        photo = np.asarray(Image.open(sample / "images" / im["file_name"]).convert("RGB"))
        shown = visualize.overlay(
            photo,
            rles,
            boxes=[a["bbox"] for a in anns],
            labels=[names[a["category_id"]] for a in anns],
        )
        name = Path(im["file_name"]).stem + ".png"
        Image.fromarray(shown).save(out / name, optimize=True)
        lines += [
            f"## {im['file_name']}",
            "",
            f"{len(anns)} objects, {im['width']} x {im['height']}.",
            "",
            f"```{{image}} /_generated/gallery/{name}",
            f":alt: masks, boxes and labels of {im['file_name']}",
            ":width: 100%",
            "```",
            "",
        ]
    (GENERATED / "gallery.md").write_text("\n".join(lines))


def _benchmarks() -> None:
    """The ratio table (Markdown) and plot of the recorded medians, as `maskprep bench` makes."""
    from maskprep import benchreport

    table = benchreport.rows(DOCS / "bench_recorded.json")
    GENERATED.mkdir(parents=True, exist_ok=True)
    benchreport.plot(table, GENERATED / "bench.png", title="maskprep vs anchors (recorded medians)")
    (GENERATED / "bench_table.md").write_text(benchreport.markdown(table))


def _generate(app) -> None:  # noqa: ANN001 - Sphinx's application object
    _gallery()
    _benchmarks()


def setup(app) -> None:  # noqa: ANN001
    app.connect("builder-inited", _generate)
