"""Facial Emotion Lab: `streamlit run Home.py`. The multipage app; each page is a file in app_pages/ (not
pages/: that name switches on Streamlit's legacy page discovery, which misreads our URLs), listed once
in ui/page.py with its title, icon and URL."""
import streamlit as st

from ui.page import navigation

st.set_page_config(page_title="Facial Emotion Lab", page_icon=":material/mood:", layout="wide")
navigation().run()
