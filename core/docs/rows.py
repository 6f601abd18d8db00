"""The README's table of bench figures: a few rows (what was measured, the figure) per measurement, by the
bench that made it (a measurement's kind is its name up to the first dot: bench-per-face.epyc is a
bench-per-face). A field a measurement lacks leaves its row out, or its part of a row."""
from __future__ import annotations

from collections.abc import Callable

from .markers import Missing

Rows = list[tuple[str, str]]


def _threads(n) -> str:
    return f"{n} thread" + ("s" if n != 1 else "")


def _get(d, *path, default=None):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def per_face(f: dict) -> Rows:
    models = f["models"]
    fastest = min(models, key=lambda n: models[n]["ms"])
    listed = ", ".join(f"`{n}` {m['ms']:.2f}" for n, m in models.items())
    return [(f"one face through each shipped emotion model (preprocessing + forward pass, {_threads(f['threads'])}, "
             f"median), ms; x: `{f['default']}`'s time over the model's",
             f"{listed}; `{fastest}` {models[fastest]['x_default']:.1f}x faster than `{f['default']}` "
             f"({models[fastest]['x_default_flip']:.1f}x with the mirror average)")]


def inference(f: dict) -> Rows:
    p, m = f["paths"], dict(f["models"])
    m["webcam"] = str(m.get("webcam_name") or m["webcam"]).removesuffix(" +flip")
    rows = []
    det, fast, one = (_get(p, k, "1_faces") for k in ("detection", "fast", "fast_1_thread"))
    if det and fast:
        text = f"{det['ms']:.1f} ms / " + (f"{one['ms']:.1f} ms / " if one else "") + f"{fast['ms']:.1f} ms"
        rows.append((f"webcam frame, 640x480, 1 face: Haar detection alone / + `{m['fast']}`"
                     + (" with 1 torch thread" if one else "") + f" / with {_threads(f['threads'])}", text))
    df, page = p.get("deepface"), p.get("page")
    if page:
        text = (f"{page['1_faces']['ms']:.1f} ms ({page['1_faces']['fps']:.1f} frames/s) / "
                f"{page['5_faces']['ms']:.1f} ms")
        if df:
            text += (f": {df['1_faces']['ms'] / page['1_faces']['ms']:.1f}x / "
                     f"{df['5_faces']['ms'] / page['5_faces']['ms']:.1f}x faster than `DeepFace.analyze` "
                     f"({df['1_faces']['ms']:.0f} / {df['5_faces']['ms']:.0f} ms)")
        rows.append((f"the same frame with the Webcam page's model (`{m['webcam']}`, mirror average, 1 thread; Haar), "
                     "1 / 5 faces" + (", and `DeepFace.analyze` on it" if df else ""), text))
    other = f.get("default_detector")
    haar, det, whole = p.get("stream_haar"), p.get(f"stream_{other}"), p.get(f"stream_{other}_whole")
    if haar and det and other != "haar":
        parts = [f"{n} face{'s' if n > 1 else ''} {haar[f'{n}_faces']['mean_ms']:.1f} / "
                 f"{det[f'{n}_faces']['mean_ms']:.1f} ({haar[f'{n}_faces']['mean_ms'] / det[f'{n}_faces']['mean_ms']:.2f}x)"
                 for n in (1, 5)]
        cpu = " / ".join(f"{haar[f'{n}_faces']['mean_cpu_ms'] / det[f'{n}_faces']['mean_cpu_ms']:.2f}x" for n in (1, 5))
        text = "; ".join(parts) + f"; CPU ms {cpu}"
        if whole:
            text += (f". {other} searching the whole frame on every detection: " + ", ".join(
                f"{haar[f'{n}_faces']['mean_ms'] / whole[f'{n}_faces']['mean_ms']:.2f}x ({n} face{'s' if n > 1 else ''})"
                for n in (1, 5)))
        rows.append((f"a webcam stream's frame as the page runs it (detection every {f['detect_every']} frames, "
                     f"{other} following the faces and searching the whole frame every {f['full_every']}th detection; "
                     f"`{m['webcam']}` + mirror, 1 thread), Haar / {other}, mean ms", text))
    return rows


def recording(f: dict) -> Rows:
    rows = []
    for n, r in f["faces"].items():
        off, on, video = r["off"], r["on"], r["video"]
        rows.append((f"the Webcam page's frame callback, camera at {f['fps']:g} frames/s, {n} face{'s' if n != '1' else ''} "
                     f"(`{str(f['model']).removesuffix(' +flip')}` + mirror, {f['detector']}, analysis on its own thread): "
                     "recording off / on / on "
                     "with the annotated video",
                     f"frames shown/s {off['shown_fps']:.1f} / {on['shown_fps']:.1f} / {video['shown_fps']:.1f}; "
                     f"labels/s {off['labels_fps']:.1f} / {on['labels_fps']:.1f} / {video['labels_fps']:.1f}; callback "
                     f"{off['callback_ms']:.1f} / {on['callback_ms']:.1f} / {video['callback_ms']:.1f} ms; CPU "
                     f"{off['cpu_cores']:.2f} / {on['cpu_cores']:.2f} / {video['cpu_cores']:.2f} cores; frames left "
                     f"out of the record {on['dropped']:.0f} / {video['dropped']:.0f}"))
    return rows


def data_load(f: dict) -> Rows:
    counts = f.get("label_counts_s")
    return [(f"FER2013 load ({f['images']:,} images): " + ("class counts from the labels alone / " if counts else "")
             + "first load (parse) / cached",
             (f"{counts:.1f} s / " if counts else "") + f"{f['cold_parse_s']:.1f} s / {f['cached_load_s']:.2f} s")]


def memory(f: dict) -> Rows:
    g, k = f["glibc"], f["kept"]
    return [(f"evaluating `{f['model'].rsplit('/', 1)[-1].removesuffix('.pt')}` on PrivateTest ({_threads(f['threads'])}), "
             "glibc's malloc defaults (batch 512, as before) / core keeps freed memory (batch 128)",
             f"{g['evaluation_512']['s']:.1f} s / {k['evaluation_128']['s']:.1f} s ({f['evaluation_speedup']:.2f}x); "
             f"kernel time {g['evaluation_512']['sys']:.1f} s / {k['evaluation_128']['sys']:.1f} s"),
            (f"{f['steps']} training steps of {f['train_model']} (batch 128), glibc's defaults / core's",
             f"{g['training']['s']:.1f} s / {k['training']['s']:.1f} s ({f['training_speedup']:.2f}x)")]


def train_throughput(f: dict) -> Rows:
    s, i = f["step"], f["input_pipeline"]
    return [(f"training input pipeline alone ({_threads(f['threads'])}), images/s",
             f"ours {i['ours']:,.0f}, per-image PIL loader {i['per_image']:,.0f} ({i['ratio']:.1f}x)"),
            (f"a whole training step, {f['model']} ({_threads(f['threads'])}), images/s",
             f"ours {s['ours']:,.0f}, per-image loader {max(s['per_image_workers_0'], s['per_image_workers_2']):,.0f} "
             f"({s['ratio']:.2f}x)")]


def train_steps(f: dict) -> Rows:
    parts, gflops = [], []
    for arch, kinds in f["archs"].items():
        before, now = kinds["before"], kinds.get("bf16") or kinds["channels_last_crops"]
        alone = ", ".join(f"{label} {kinds[key]['speedup']:.2f}x" for key, label in (
            ("channels_last", "channels_last alone"), ("crops", "crops alone"), ("channels_last_crops", "both"))
            if key in kinds)
        parts.append(f"{arch} {before['s']:.3f} / {now['s']:.3f} s ({now['speedup']:.2f}x; {alone})")
        gflops += [k["gflops"] for k in kinds.values() if "gflops" in k]
    now = "channels_last where safe + 40 px crops" + (" + bf16 autocast" if f.get("bf16") else "")
    rate = (f"{min(gflops):.0f}-{max(gflops):.0f} GFLOP/s" if gflops else
            f"float32 {_span(f['gflops_float32'], '.0f')} GFLOP/s, bf16 {_span(f['gflops_bf16'], '.0f')}")
    return [(f"a training step of vgg / resnet (width 32, batch {f['batch']}, {_threads(f['threads'])}), the loop before "
             f"(NCHW, 48 px, float32) / now ({now})", "; ".join(parts) + f"; {rate}")]


def _span(v, fmt: str) -> str:
    """A figure, or the range of several runs' ("0.21-0.44")."""
    return "-".join(format(x, fmt) for x in v) if isinstance(v, list) else format(v, fmt)


def distill(f: dict) -> Rows:
    runs = f" ({f['runs']} runs)" if f.get("runs") else ""
    return [(f"a training step of {f['batch']} for the {f['student']} (width {f['width']}, {_threads(f['threads'])}), "
             f"alone / distilling from `{f['teacher']}`{runs}",
             f"{_span(f['alone_s'], '.2f')} s / {_span(f['with_teacher_s'], '.2f')} s ({_span(f['ratio'], '.1f')}x)")]


def video(f: dict) -> Rows:
    o1, o4 = f["ours"]["1_faces"], f["ours"]["4_faces"]
    text = (f"{o1['wall_s']:.1f} s / {o4['wall_s']:.1f} s: {o1['realtime']:.2f}x / {o4['realtime']:.2f}x faster than "
            "real time")
    df = f.get("deepface")
    if df:
        text += (f"; {df['1_faces']['ratio']:.1f}x / {df['4_faces']['ratio']:.1f}x faster per analysed frame than "
                 f"`DeepFace.analyze` ({df['1_faces']['ms']:.0f} / {df['4_faces']['ms']:.0f} ms)")
    rows = [(f"a {f['seconds']:g} s 640x480 30 fps clip analysed at {f['rate']:g} frames/s (`{f['model']}`, "
             f"{f['detector']}), 1 face / 4 faces", text)]
    rss = f.get("rss") or {}
    if all("peak_mb" in (rss.get(k) or {}) for k in ("10_s", "60_s")):
        rows.append(("peak memory of one analysis, 10 s / 60 s clip",
                     f"{rss['10_s']['peak_mb']:.0f} MB / {rss['60_s']['peak_mb']:.0f} MB ({rss['ratio']:.2f}x)"))
    return rows


def scaleout(f: dict) -> Rows:
    rows = []
    s, d = f.get("search"), f.get("ddp")
    if s:
        rows.append((f"a {s['trials']}-trial search ({s['storage']}), 1 worker / 2 workers",
                     f"{s['one_worker_s']:.1f} / {s['two_workers_s']:.1f} s ({s['speedup']:.2f}x)"))
    if d:
        rows.append(("one DDP epoch, 2 CPU processes / the best single process, images/s",
                     f"{d['two_processes_ips']:,.0f} / {d['one_process_ips']:,.0f} ({d['speedup']:.2f}x)"))
    return rows


def teachers(f: dict) -> Rows:
    acc = f["accuracy"]
    split = dict(val="PublicTest", test="PrivateTest")[f["split"]]
    return [(f"teachers on {split}, each and their probabilities averaged",
             ", ".join(f"{'averaged' if n == 'averaged' else f'`{n}`'} {a:.2%}" for n, a in acc.items()))]


def webcam_browser(f: dict) -> Rows:
    r = f["rows"]
    before, after = r.get("1-face-inline"), r.get("1-face-newest")
    if not (before and after):
        return []
    return [(f"the Webcam page in headless Chromium, fake camera at {f['fps']} frames/s, 1 face: frames shown per "
             "second, analysis on the stream's thread (before) / on its own thread (now)",
             f"{before['new_fps']:.1f} / {after['new_fps']:.1f}; labels/s {before['labels_fps']:.1f} / "
             f"{after['labels_fps']:.1f}; the labels trail by {after['lag_frames']:.2f} frames")]


ROWS: dict[str, Callable[[dict], Rows]] = {
    "bench-per-face": per_face, "bench-inference": inference, "bench-recording": recording,
    "data-load": data_load, "bench-memory": memory, "bench-train-throughput": train_throughput,
    "bench-train-steps": train_steps, "bench-distill": distill, "bench-video": video, "bench-scaleout": scaleout,
    "bench-teachers": teachers, "bench-webcam-browser": webcam_browser,
}


def figure_rows(name: str, record: dict) -> Rows:
    """The rows of one measurement (Missing where its kind has none, or it lacks a figure they need)."""
    kind = ROWS.get(name.split(".", 1)[0])
    if kind is None:
        raise Missing(f"no rows for a measurement named {name} (kinds: {', '.join(ROWS)})")
    try:
        return kind(record["figures"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        raise Missing(f"results/{name}.json lacks a figure: {type(e).__name__} {e}") from None
