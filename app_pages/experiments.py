"""Experiments: every run side by side, their curves, confusion matrices and evaluations; promote, rename and
delete runs; two models compared on the same faces; run and watch a hyper-parameter search (Optuna)."""
import streamlit as st

from core import jobs
from core.runs import list_runs, list_shipped_runs, open_run
from ui import experiments as X
from ui import loaders as L
from ui import model_compare as MC
from ui import run_table as RT
from ui import run_view as RV
from ui import search_form as SF
from ui import widgets as w
from ui.format import display_state
from ui.page import page_link, setup_page
from ui.state import keep

setup_page()
jobs.ensure_workers()  # queued runs whose worker is gone (a restart) get one again
st.title("Experiments")
st.markdown("Every training run side by side, and the shipped models' own training histories beside them. Tick "
            "runs to overlay their curves, open one to see where it goes wrong, **promote** the best (only promoted runs are offered "
            "on the Webcam and Compare pages, at the top of their lists), or let a **search** find better settings.")

TABS = [":material/table_chart: Runs", ":material/compare_arrows: Compare two models",
        ":material/travel_explore: Hyper-parameter search"]
tab_runs, tab_compare, tab_search = st.tabs(TABS, key=keep("exp_tab", TABS, default=TABS[0]), on_change="rerun")

# ---------------------------------------------------------------- runs
with tab_runs:
    deleted = st.session_state.pop("exp_deleted", None)
    if deleted:
        st.success(f"Deleted {deleted}.", icon=":material/delete:")
    runs = list_runs() + list_shipped_runs()
    if not runs:
        st.info("No runs yet. Start one on the **Train** page (or `python -m core train --recipe quick` in a "
                "terminal); it shows up here by itself.", icon=":material/science:")
        page_link("app_pages/train.py")
    else:
        df, picked = RT.runs_table(runs, L.shipped_without_history())
        ids = list(df["run_id"])
        labels = RT.unique_labels(ids, dict(zip(df["run_id"], df["name"])))
        if not picked:
            st.info("Tick one or more runs in the table (or pick them above) to overlay their curves.",
                    icon=":material/touch_app:")
        else:
            st.subheader("Curves", divider="gray")
            RT.overlay_curves(picked, labels)

        st.subheader("One run in detail", divider="gray")
        shipped = set(df.loc[df["status"] == "shipped", "run_id"])
        keep("exp_detail", ids)  # any run or shipped model, ticked or not; it stays when the user comes back
        if st.session_state.get("exp_detail") not in ids:
            st.session_state["exp_detail"] = (picked or ids)[0]
        rid = st.selectbox("Run or shipped model", ids, key="exp_detail",
                           format_func=lambda i: labels.get(i, i) + (" · shipped" if i in shipped else ""),
                           help="Every run in the table and every shipped model with its training history, "
                                "ticked or not.")
        try:
            run = open_run(rid)
        except (ValueError, FileNotFoundError):
            run = None
            st.warning("This run no longer exists.")
        problem = run.problem() if run else ""
        if problem:  # what is wrong, and the way to delete it
            RV.damaged_message(run, problem)
            if not run.shipped:
                X.manage_view(run)
        elif run:
            cfg = run.config()
            RV.run_header(run, "shipped" if run.shipped else display_state(run), cfg)
            RV.run_metrics_row(run, cfg, run.metrics())
            if run.shipped:
                st.caption(f"A shipped model (`{run.checkpoint.name}`): its training history is read-only; its "
                           "figures come from its model card (`python -m core card`).")
                X.results_view(run)
            else:
                t1, t2, t3 = st.tabs([":material/grid_on: Results", ":material/fact_check: Evaluate",
                                      ":material/edit: Manage"])
                with t1:
                    X.results_view(run)
                with t2:
                    X.evaluate_view(run)
                with t3:
                    X.manage_view(run)

# ---------------------------------------------------------------- two models, paired
with tab_compare:
    MC.compare_view()

# ---------------------------------------------------------------- search
with tab_search:
    if st.session_state.pop("se_started", False):
        st.toast("Search started: its trials appear below as they run.", icon=":material/travel_explore:")
    from core.jobs.search import list_studies

    study_url = SF.study_url()  # FEL_STUDY_STORAGE (e.g. a PostgreSQL study shared by many machines), or None
    try:
        studies = list_studies(url=study_url)
    except Exception as e:  # noqa: BLE001 - a broken or unreachable database must not break the page
        studies = []
        st.error(f"The search database cannot be read: {w.friendly_error(e)}")
    procs = {p["study"]: p for p in jobs.search_processes()}
    names = [s["name"] for s in studies] + [n for n in procs if n not in {s["name"] for s in studies}]
    with st.expander("Start a new search", expanded=not names, icon=":material/add_circle:"):
        SF.new_search_form()
    st.subheader("Studies", divider="gray")
    st.caption(SF.database_caption(study_url))
    if not names:
        st.info("No search yet. Choose the parameters above and press **Start search**. Each trial is a short "
                "training run; Optuna picks the next settings from the results so far.",
                icon=":material/travel_explore:")
    else:
        if st.session_state.get("se_view") not in names:
            st.session_state["se_view"] = names[0]
        name = st.selectbox("Study", names, key="se_view", help="Every search in the study database named above.")
        alive = bool(procs.get(name, {}).get("alive"))

        @st.fragment(run_every=SF.SEARCH_REFRESH_S if alive else None)
        def _study():
            now_alive = jobs.search_alive(name) if name in procs else False
            if now_alive != alive:
                st.rerun()
            c1, c2 = st.columns([3, 1], vertical_alignment="center")
            c1.markdown(SF.study_heading(name, alive), unsafe_allow_html=True)
            if alive and c2.button("Stop search", key=f"se_stop_{name}", icon=":material/stop_circle:",
                                   help="The trial now training stops with a checkpoint; no new trial starts."):
                jobs.stop_search(name)
                st.toast("Stopping the search after a checkpoint…", icon=":material/stop_circle:")
            SF.study_view(name, alive, study_url)

        _study()
