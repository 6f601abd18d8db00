"""Compare: photos in, every face analysed by each chosen model side by side; batch accuracy on a labelled set."""
import streamlit as st

from core.data.archive import sample_split
from core.predict.choice import compare_models
from core.predict.detectors import PHOTO_SETTINGS
from core.settings import sample_dir
from ui import batch
from ui import compare as cmp
from ui import loaders as L
from ui import widgets as w
from ui.page import setup_page
from ui.state import keep, kept_uploader

setup_page("Compare models",
           "Give the app a photo: it finds every face and asks each model you pick. Compare their emotions, "
           "confidence and stress verdicts face by face, and see **where** a CNN looked (Grad-CAM). "
           "The **Batch accuracy** tab measures the models on labelled faces.")

# ---------------------------------------------------------------- sidebar: models and settings
sb = st.sidebar
sb.header("Models")
models, df_status, df_ok = L.model_sources()
chosen = w.model_picker(models, key="compare_models", multi=True, container=sb, first=compare_models(models),
                        with_deepface=df_ok)  # pre-selected only where it can run
mirror = w.mirror_toggle("compare_mirror", sb)
DF_MODES = ["the same face crops as ours", "the whole photo (DeepFace end to end)"]
df_mode = sb.radio("DeepFace works on", DF_MODES, key=keep("compare_df_mode", DF_MODES),
                   disabled=w.DEEPFACE not in chosen,
                   help="Same crops: a fair model-to-model comparison. End to end: DeepFace also finds the faces "
                        "itself, as you would use it out of the box (photos only).")
sb.header("Display")
show_cam = sb.toggle("Grad-CAM (where the CNN looked)", key=keep("compare_cam", default=True))
min_face = sb.slider("Smallest face (% of the photo)", 2, 40, help="Faces smaller than this are ignored.",
                     key=keep("compare_min_face", default=int(PHOTO_SETTINGS["min_size"] * 100)))
detector_name = w.detector_picker("compare_detector", sb)
tilted = w.tilted_toggle("compare_tilted", sb, value=True)
align = sb.toggle("Turn faces upright", key=keep("compare_align", default=True),
                  help="Rotate each face so its eyes are level before the models see it (detectors with "
                       "landmarks only).")

if not models:
    w.no_model_message()
if w.DEEPFACE in chosen:
    w.deepface_warning(df_status)

# Load the chosen predictors once; a model that fails to load is reported, the others still run.
predictors, deepface_e2e = [], None
for value in chosen:
    if value == w.DEEPFACE and not df_ok:
        continue
    try:
        with st.spinner("Loading DeepFace (TensorFlow, a few seconds the first time)..." if value == w.DEEPFACE
                        else "Loading the model..."):
            p = L.get_predictor(value, tta=w.tta_for(value, mirror))
    except Exception as e:  # noqa: BLE001
        st.warning(f"Could not load **{w.model_options(models).get(value, value)}**: {w.friendly_error(e)}")
        continue
    if value == w.DEEPFACE and df_mode.startswith("the whole"):
        deepface_e2e = p
    else:
        predictors.append(p)
calibration = w.calibration_note(predictors)  # do the confidences mean what they say?
if calibration:
    sb.caption(calibration)

photos_tab, batch_tab = st.tabs([":material/photo_library: Photos", ":material/table_chart: Batch accuracy"])

# ---------------------------------------------------------------- photos
with photos_tab:
    source = st.radio("Faces from", ["Sample photos", "Upload", "Camera", "Data set"], horizontal=True,
                      key=keep("compare_source"),
                      captions=["photos shipped with the app", "your own images", "take a picture",
                                "random FER2013 test faces"])
    pictures = []
    if source == "Sample photos":
        samples = w.sample_images()
        if samples:
            pick = st.selectbox("Sample photo", samples, format_func=lambda p: p.name,
                                key=keep("compare_sample", samples))
            pictures = [cmp.picture_from_path(pick)]
        else:
            st.info(f"No sample photos in `{sample_dir()}`. Upload your own instead.")
    elif source == "Upload":
        files = kept_uploader("Images (jpg, png, webp, bmp, gif, tiff)", "compare_upload", type=w.IMAGE_TYPES,
                              accept_multiple_files=True)  # kept for the session, also when the page is left
        pictures, repeats = cmp.unique_pictures([cmp.picture_from_bytes(name, data) for name, data in files])
        if repeats:
            st.caption("Uploaded more than once, analysed once: " + ", ".join(f"**{r}**" for r in repeats) + ".")
    elif source == "Camera":
        shots = kept_uploader("Take a photo", "compare_camera", camera=True)
        if shots:
            pictures = [cmp.picture_from_bytes("camera.jpg", shots[-1][1])]
    else:
        ds, msg = L.get_dataset("emotion")
        if ds is None:
            st.info(msg)
        else:
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            n = c1.slider("How many faces", 1, 16, key=keep("compare_ds_n", default=6))
            if c2.button("New faces", icon=":material/casino:", key="compare_ds_new"):
                st.session_state["compare_ds_seed"] = st.session_state.get("compare_ds_seed", 0) + 1
            which = "all"
            if ds.splits["test"].votes is not None:  # FER+'s votes beside FER2013's labels: where they part
                which = st.radio("Faces where", list(cmp.DATASET_FACES), format_func=cmp.DATASET_FACES.get,
                                 horizontal=True, key=keep("compare_ds_which"),
                                 help="FER+ asked ten people about each face. *People disagreed*: no emotion got "
                                      "more than half of their votes.")
            pictures = [cmp.dataset_faces(ds, n, st.session_state.get("compare_ds_seed", 0), which)]

    if pictures and not (predictors or deepface_e2e):
        st.info("Pick at least one model in the sidebar.", icon=":material/arrow_back:")
    all_rows = []
    detector = L.get_detector(detector_name, min_size=min_face / 100.0, detect_width=PHOTO_SETTINGS["detect_width"],
                              tilted=tilted)
    if L.detector_notice(detector_name):
        st.warning(L.detector_notice(detector_name), icon=":material/warning:")
    settings_key = (tuple(chosen), df_mode, min_face, mirror, detector_name, align, tilted)
    for pic_i, pic in enumerate(pictures):
        if pic.error:
            st.error(f"**{pic.name}**: {pic.error}", icon=":material/broken_image:")
            continue
        if not (predictors or deepface_e2e):
            continue
        with st.spinner(f"Analysing {pic.name}..."):
            res = cmp.cached_analysis(pic, predictors, detector, deepface_e2e, settings_key, align=align)
        if res.error:
            st.error(f"**{pic.name}**: {res.error}")
            continue
        if len(pictures) > 1 or pic.image is not None:
            st.subheader(pic.name)
        if pic.image is not None:
            img_col, glance_col = st.columns([3, 2], gap="medium")
            h, wd = pic.image.shape[:2]
            img_col.image(cmp.annotated_image(res), caption=f"{wd}×{h} px · {len(res.faces)} face(s) found")
        else:  # data set faces: no photo beside the table, which takes the whole width
            glance_col = st.container()
        if res.faces:
            cmp.show_glance(res, glance_col)
        for name, error in res.photo.errors:
            st.warning(f"**{name}** failed on this picture: {error}")
        if not res.faces:
            st.info("No face found in this picture. Try a photo where the face is larger, frontal and well lit, "
                    "or lower *Smallest face* in the sidebar.", icon=":material/face:")
            continue
        if res.photo.extra_faces:
            st.caption(f"DeepFace found {len(res.photo.extra_faces)} face(s) our detector did not (rows D1, D2, ... "
                       "in the table).")
        shown = res.faces[:cmp.MAX_FACES_SHOWN]
        if len(res.faces) > len(shown):
            st.caption(f"{len(res.faces)} faces: the first {len(shown)} are shown in detail; the table below has all.")
        for face in shown:
            people = pic.people[face.number - 1] if pic.people and isinstance(face.number, int) else None
            cmp.show_face(face, predictors, show_cam, key=f"{pic_i}-{pic.key}-{face.number}", first=face is shown[0],
                          people=people)
        all_rows += res.rows()

    if all_rows:
        st.subheader("All results")
        df = cmp.results_frame(all_rows)
        st.dataframe(cmp.shown_results(df), hide_index=True, width="stretch", key="compare_results", column_config={
            "confidence": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
            "stress_confidence": st.column_config.NumberColumn("stress conf.", format="percent"),
            "latency_ms": st.column_config.TextColumn("ms per face", help="warm: the median of a few calls after "
                                                      "the first; – where it could not be measured warm"),
        })
        st.download_button("Download as CSV", df.to_csv(index=False).encode(), "emotion_results.csv", "text/csv",
                           icon=":material/download:", key="compare_csv")

# ---------------------------------------------------------------- batch accuracy
with batch_tab:
    st.markdown("Measure the chosen models on **labelled faces**: accuracy, per-class accuracy and confusion "
                "matrices, side by side. DeepFace runs on the same 48×48 crops as our models.")
    batch_src = st.radio("Labelled faces from", ["FER2013 test split", "A zip of class folders"], horizontal=True,
                         key=keep("batch_source"))
    images = labels = classes = None
    use_split = False
    if batch_src == "FER2013 test split":
        from core.data import default_data_path

        data_path = default_data_path()
        if data_path is None:
            st.info(w.data_help())
        else:
            n = st.slider("Sample size (faces)", 50, 3600, step=50, key=keep("batch_n", default=500),
                          help="A random, fixed sample of the test split (3,589 faces in FER2013). "
                               "DeepFace is slow on a CPU: all of them take a while.")
            st.caption(f"From the test split of `{data_path}`.")
            use_split = True
    else:
        zips = kept_uploader("Zip of a labelled folder (happy/*.jpg, sad/*.jpg, ...; or train/ and test/)",
                             "batch_zip", type=["zip"])
        up = zips[-1][1] if zips else None
        st.caption("Images should be face crops, like FER2013's; each is turned grey and resized to 48×48.")
        if up is not None:
            try:
                with st.spinner("Reading the zip..."):
                    images, labels, classes, desc = batch.zip_dataset(up)
                st.success(f"Read {desc}.")
            except ValueError as e:
                st.error(str(e), icon=":material/folder_off:")
    have_models = bool(predictors or deepface_e2e)
    ready = have_models and (use_split or (images is not None and len(labels) > 0))
    if not have_models:
        st.info("Pick at least one model in the sidebar.", icon=":material/arrow_back:")
    # on labelled crops DeepFace always works on the crops, whatever the photo mode says
    predictors_b = predictors + ([deepface_e2e] if deepface_e2e is not None else [])
    if st.button("Measure", type="primary", disabled=not ready, icon=":material/play_arrow:", key="batch_run"):
        if use_split:
            ds, msg = L.get_dataset("emotion")
            if ds is None:
                st.error(msg)
            else:
                images, labels, classes = sample_split(ds, "test", n)
        if images is not None:
            bar = st.progress(0.0, text="starting...")
            st.session_state["batch_results"] = (batch.evaluate_all(predictors_b, images, labels, classes, bar),
                                                 tuple(classes))
            bar.empty()
    if st.session_state.get("batch_results"):
        results, res_classes = st.session_state["batch_results"]
        batch.show_batch_results(results, res_classes)
