"""The app's pages, said once (file, title, icon, URL, what each is for), the navigation Home.py runs, the
styles every page shares, and links between pages."""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.settings import ROOT


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    icon: str
    url: str
    text: str  # what the page is for, on the Home page's cards


HOME = PageSpec("app_pages/home.py", "Home", ":material/mood:", "", "")
PAGES = (
    PageSpec("app_pages/webcam.py", "Webcam", ":material/videocam:", "Webcam",
             "Live emotions on your camera: every face boxed and labelled, with a stress marker."),
    PageSpec("app_pages/video.py", "Video", ":material/movie:", "Video",
             "A recorded clip: every face followed, its emotions on a timeline, an annotated copy."),
    PageSpec("app_pages/compare.py", "Compare", ":material/compare:", "Compare",
             "Your models vs DeepFace on photos, face by face, with Grad-CAM, and their accuracy."),
    PageSpec("app_pages/train.py", "Train", ":material/model_training:", "Train",
             "Train a CNN on FER2013 or your own image folders, with live curves."),
    PageSpec("app_pages/experiments.py", "Experiments", ":material/science:", "Experiments",
             "All training runs side by side: curves, confusion matrices, the best model."),
)

# The app's one stylesheet, emitted once per page run by setup_page (a fragment's reruns and each run shown on a
# page add none): the cards, pills and run headers, and the webcam panel greyed after STOP.
_CSS = """
<style>
  [data-testid="stMetricValue"] { font-size: 1.6rem; }
  .fel-card-text { color: #4b5563; font-size: 0.92rem; min-height: 3.6em; }
  .fel-muted { color: #6b7280; font-size: 0.9rem; }
  .fel-pill { display:inline-block; padding:0.1rem 0.55rem; border-radius:999px; color:white; font-weight:600;
              font-size:0.85rem; margin-right:0.3rem; }
  .fel-run-head { display:flex; align-items:center; gap:0.6rem; flex-wrap:wrap; margin-bottom:0.1rem; }
  .fel-run-title { font-size:1.25rem; font-weight:700; color:#1f2333; }
  .fel-kv { color:#4b5563; font-size:0.88rem; }
  .fel-kv b { color:#1f2333; font-weight:600; }
  .st-key-webcam_stopped [data-testid="stMetric"], .st-key-webcam_stopped .fel-muted,
  .st-key-webcam_stopped iframe, .st-key-webcam_stopped [data-testid="stHtml"] { opacity: 0.4; filter: grayscale(1); }
</style>
"""


def available_pages() -> list[PageSpec]:
    return [p for p in PAGES if (ROOT / p.file).exists()]


def navigation():
    """The multipage app: every page by its file, title, icon and URL path (st.navigation)."""
    pages = [st.Page(HOME.file, title=HOME.title, icon=HOME.icon, default=True)]
    pages += [st.Page(p.file, title=p.title, icon=p.icon, url_path=p.url) for p in available_pages()]
    return st.navigation(pages)


def setup_page(title: str | None = None, intro: str | None = None) -> None:
    """What every page does first: the shared styles, then its title and what it does."""
    st.html(_CSS)
    if title:
        st.title(title)
    if intro:
        st.markdown(intro)


def page_link(path: str, label: str | None = None, icon: str | None = None) -> None:
    """`st.page_link` to one of our pages, or plain text if that page is not there (a page run on its own)."""
    spec = next((p for p in PAGES if p.file == path), None)
    label = label or (spec.title if spec else Path(path).stem)
    icon = icon or (spec.icon if spec else None)
    if (ROOT / path).exists():
        try:
            st.page_link(path, label=label, icon=icon)
            return
        except Exception:  # noqa: BLE001 - e.g. run outside the multipage app (a test of a single page)
            pass
    st.markdown(f"<b>{html.escape(label)}</b> <span class='fel-muted'>(not available)</span>", unsafe_allow_html=True)


def pill(text: str, color: str) -> str:
    return f"<span class='fel-pill' style='background:{color}'>{html.escape(str(text))}</span>"
