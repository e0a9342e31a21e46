"""The documentation's numbers and pictures, made from what the benchmarks and the shipped
model produce, so that a page cannot drift from them (``python -m skinxai.docs``)."""

from skinxai.docs.pages import PAGES, StalePage, check_pages, render_page, write_pages
from skinxai.docs.results import Results, repository_results

__all__ = [
    "PAGES",
    "Results",
    "StalePage",
    "check_pages",
    "render_page",
    "repository_results",
    "write_pages",
]
