"""The app's layer above the engine: Streamlit pieces the pages share, one idea per module. It imports core
(any layer) and Streamlit; core never imports it, and the pages (app_pages/) import it and core only.

- page (the pages said once, navigation, shared styles), widgets (pickers, messages), loaders (what stays
  loaded across reruns);
- format (how states and numbers are said), charts (every plotly figure; no Streamlit);
- compare and batch (the Compare page), dataset, train_form and run_view (the Train page), run_table,
  experiments and search_form (the Experiments page), video (the Video page).
"""
