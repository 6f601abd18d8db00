"""Train: pick a data set and a recipe, start a run, watch it live, stop and resume it.

Runs train in their own processes (core.jobs): closing the tab or restarting Streamlit does not
stop them, and this page finds them again from their folders.
"""
import streamlit as st

from core import jobs
from core.runs import list_runs
from ui import dataset as D
from ui import run_view as RV
from ui import train_form as F
from ui import widgets as w
from ui.page import page_link, setup_page
from ui.state import keep

setup_page()
F.init_form()
jobs.ensure_workers()  # queued runs whose worker is gone (a restart) get one again
runs = list_runs()
active = jobs.active_runs()

st.title("Train a model")
st.markdown("Choose a data set and a recipe, press **Start training**, and watch the curves grow. "
            "Runs go on in the background: close the tab, come back later, they are still here.")

NEW, RUNS = ":material/add_circle: New run", ":material/monitoring: Runs"
if "tr_goto" in st.session_state:  # after Start: show the run
    st.session_state["tr_tab"] = st.session_state.pop("tr_goto")
# the first tab shown: Runs while one trains; then the one the user last chose, also after another page
tab_new, tab_runs = st.tabs([NEW, RUNS], key=keep("tr_tab", [NEW, RUNS], default=RUNS if active else NEW),
                            on_change="rerun")

# ---------------------------------------------------------------- a new run
with tab_new:
    top_left, top_right = st.columns(2, gap="medium")
    with top_left.container(border=True):
        st.markdown("##### :material/dataset: Data set")
        st.text_input("A FER2013-style CSV (.csv, .csv.gz) or a folder of class folders", key="tr_data",
                      placeholder="data/fer2013.csv", help="The default is FER2013 where the project finds it.")
        c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
        c1.radio("Task", ["emotion", "stress"], key="tr_task", horizontal=True,
                 format_func={"emotion": "emotions", "stress": "stress / no stress"}.get,
                 help="Stress folds angry, fear and sad into *stress*, the rest (contempt too) into *no stress*.")
        c2.button("Demo data set", icon=":material/auto_awesome:", on_click=D.use_demo_dataset, width="stretch",
                  help="Make a small synthetic data set (48×48 stripes, one frequency per class) that a model "
                       "learns in a minute: for trying this page without FER2013. Not faces!")
        demo_error = st.session_state.pop("tr_data_error", None)
        if demo_error:
            st.error(demo_error, icon=":material/error:")
        F.labels_section()
        data_path = st.session_state["tr_data"].strip()
        data_ok = False
        if not data_path:
            st.info(w.data_help() + " Or press **Demo data set**.", icon=":material/info:")
        else:
            with st.spinner("Reading the data set…"):
                info, err, decoding = D.dataset_state(data_path, st.session_state["tr_task"],
                                                      st.session_state["tr_labels"], st.session_state["tr_label_mode"])
            if err:
                st.error(err, icon=":material/error:")
            else:
                data_ok = info is not None  # a data set being decoded without counts: Start when it is done
                if info is not None:
                    D.show_dataset_info(info)
                if decoding is not None:
                    D.decode_status(data_path, decoding, counted=info is not None)
    with top_right.container(border=True):
        st.markdown("##### :material/neurology: Recipe and model")
        F.recipe_section()

    bottom_left, bottom_right = st.columns(2, gap="medium")
    with bottom_left.container(border=True):
        st.markdown("##### :material/speed: Optimisation")
        F.optimisation_section()
    with bottom_right.container(border=True):
        st.markdown("##### :material/flip: Augmentation")
        F.augmentation_section()
        with st.expander("Advanced", icon=":material/settings:"):
            F.advanced_section()

    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    c1.text_input("Name of the run (optional)", key="tr_name", placeholder="e.g. xception-strong-aug", max_chars=80,
                  help="Used in the run's folder name: letters, digits and dashes are kept, the rest is dropped.")
    start = c2.button("Start training", type="primary", icon=":material/play_arrow:", width="stretch",
                      disabled=not data_ok, key="tr_start")
    if start:
        cfg = F.config_from_form()
        errs = cfg.validate()
        if errs:
            st.error("Please fix these settings first:\n\n" + "\n".join(f"- {e}" for e in errs),
                     icon=":material/error:")
        else:
            try:
                run = jobs.submit(cfg)
            except (ValueError, OSError, RuntimeError) as e:  # RuntimeError: a checkpoint that cannot be read
                st.error(f"The run could not be started: {w.friendly_error(e)}", icon=":material/error:")
            else:
                st.session_state["tr_view"] = run.id
                st.session_state["tr_goto"] = RUNS
                st.session_state["tr_started"] = run.id
                st.rerun()
    if data_ok:
        st.caption("**Start trains:** " + F.run_summary(F.config_from_form(), info["sizes"].get("train")) + ".")
    else:
        st.caption("A run needs a data set that can be read: see **Data set** above.")

# ---------------------------------------------------------------- runs, live
with tab_runs:
    if st.session_state.pop("tr_started", None):
        st.toast("Run queued: it starts in a few seconds.", icon=":material/rocket_launch:")
    if not runs:
        st.info("No runs yet. Choose the settings in **New run** and press **Start training**; the run then shows "
                "here, live.", icon=":material/model_training:")
    else:
        pick, link = st.columns([7, 3], gap="medium", vertical_alignment="bottom")
        options = RV.run_options(runs[:60])
        keep("tr_view", options)  # the run shown stays when the user comes back from another page
        if st.session_state.get("tr_view") not in options:
            st.session_state["tr_view"] = options[0]
        pick.selectbox("Run", options, key="tr_view", format_func=RV.run_label,
                       help="Running and queued runs come first. All runs are on the Experiments page.")
        with link:
            page_link("app_pages/experiments.py", label="Compare all runs")
        RV.live_panel(st.session_state["tr_view"], refresh=bool(active))  # the run and the queue, one moment's
