"""Reports of recorded runs: the self-contained HTML page (`html`)."""

from .html import render_report as render_report

__all__ = ["render_report"]
