"""`seldb report detectors`: the units precision calls object detectors, and how good they are.

Lists seldb.detector_claims (precision_60 > 0.75, Zhou et al. 2015's
criterion) beside recall at precision 1, hit rate and false alarms at
maximum informedness and whether the precision, CCMAS and informedness
classes agree; above them, one plain-language paragraph whose every number
is a column of seldb.detector_summary, so the verdict can be checked in SQL.
Where layers were dissected, the units Network Dissection calls detectors
(top-label IoU > 0.04) follow with the same measures (`netdissect_detectors`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import sqlalchemy as sa

from seldb.db.database import Database
from seldb.db.read import Run, by_layer, frame, layer_order, resolve_run
from seldb.errors import SeldbError
from seldb.reports import am_panels as in_reports
from seldb.reports.base import Report, Section

CLAIM_COLUMNS = [
    "unit_label",
    "precision_60",
    "precision_60_class",
    "recall_p1",
    "max_informedness",
    "mi_recall",
    "mi_false_alarm_rate",
    "mi_false_discovery_rate",
    "ccmas",
    "ccmas_class",
    "mi_class",
    "classes_agree",
    "precision_60_lo",
    "precision_60_q",
    "survives",
]
# A verdict of "good detectors" needs both: the typical claimed unit separates its class well
# (median max informedness >= 0.8) and fewer than half the claimed units are wrong half the time.
GOOD_MEDIAN_INFORMEDNESS = 0.8


def detectors_report(db: Database, run: int | None = None, out_dir: str | Path | None = None) -> Report:
    """The claimed detectors of a run, per-layer counts, and a verdict paragraph; their AM images
    (seldb am) where they have one, drawn as one grid under out_dir."""
    with db.connect() as conn:
        r = resolve_run(conn, run)
        claims = frame(
            conn,
            f"SELECT {', '.join(CLAIM_COLUMNS)} FROM seldb.detector_claims WHERE run_id = :r"
            " ORDER BY precision_60 DESC, max_informedness DESC, layer, unit",
            {"r": r.run_id},
        )
        summary = frame(conn, "SELECT * FROM seldb.detector_summary WHERE run_id = :r", {"r": r.run_id})
        layers = layer_order(conn, r.run_id)
        am_images = in_reports.detector_images(conn, r.run_id)
        dissected = netdissect_detectors(conn, r.run_id)
    if summary.is_empty() and dissected is None:
        raise SeldbError(f"{r.name} has no units to judge")
    extra, extra_notes = ([dissected[0]], [dissected[1]]) if dissected else ([], [])
    if summary.is_empty():  # a run made by seldb dissect: Network Dissection's verdict only
        title = f"Object detectors by Network Dissection: {r.name}"
        return Report("detectors", title, r.run_id, extra, notes=extra_notes)
    overall = summary.filter(pl.col("layer").is_null()).row(0, named=True)
    per_layer = summary.sort(by_layer(layers), nulls_last=True)
    per_layer = per_layer.with_columns(pl.col("layer").fill_null("(all layers)")).drop("run_id", "model")
    title = f"Object detectors by the precision criterion, and how good they are: {r.name}"
    sections = [
        Section("claims", "units with precision_60 > 0.75", claims),
        Section(
            "per_layer",
            "counts per layer (seldb.detector_summary)",
            per_layer,
            [
                "layer",
                "n_units",
                "n_claimed",
                "pct_claimed",
                "n_classes_agree",
                "n_fdr_at_least_half",
                "median_recall_p1",
                "median_max_informedness",
                "median_mi_recall",
                "median_mi_false_discovery_rate",
                "n_robust",
            ],
        ),
    ]
    report = Report("detectors", title, r.run_id, sections + extra, notes=[verdict(overall, r), *extra_notes])
    if am_images.height:
        report.sections.append(Section("am_images", "their activation-maximisation images (seldb am)", am_images))
        grid = out_dir and in_reports.detector_grid(am_images, Path(out_dir) / f"{report.stem}-am.png", title)
        report.files += [grid] if grid else []
    return report


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def verdict(s: dict, run: Run) -> str:
    """One paragraph from a seldb.detector_summary row (all layers) in plain words."""
    n, claimed = s["n_units"], s["n_claimed"]
    if claimed == 0:
        return (
            f"None of the {n:,} units of {run.name} passes the precision criterion (precision_60 > 0.75, "
            "Zhou et al. 2015), so no unit would be called an object detector."
        )
    good = (s["median_max_informedness"] or 0) >= GOOD_MEDIAN_INFORMEDNESS and 2 * s["n_fdr_at_least_half"] < claimed
    judgement = "By the measures that count misses and false alarms, most of them are " + (
        "good detectors too." if good else "poor detectors."
    )
    return (
        f"{claimed:,} of the {n:,} units of {run.name} ({s['pct_claimed']:.1f}%) pass the precision criterion "
        f"(precision_60 > 0.75) that Zhou et al. (2015) used to call a unit an object detector. {judgement} "
        f"Without a single false alarm (recall at precision 1) the median one fires for {_pct(s['median_recall_p1'])} "
        f"of its class (best {_pct(s['max_recall_p1'])}); {s['n_recall_p1_at_least_half']:,} of them reach half. "
        f"At their best trade-off (maximum informedness: median {_num(s['median_max_informedness'])}, best "
        f"{_num(s['max_max_informedness'])}) the median one finds {_pct(s['median_mi_recall'])} of its class, "
        f"and {_pct(s['median_mi_false_discovery_rate'])} of the images it fires for belong to other classes; "
        f"{s['n_fdr_at_least_half']:,} of the {claimed:,} are wrong at least half the time they fire. "
        f"Precision, CCMAS and informedness name the same class for {s['n_classes_agree']:,} of them."
        + robustness(s, run)
    )


def robustness(s: dict, run: Run) -> str:
    """The sentence on how many claims survive resampling and chance (seldb uncertainty)."""
    if not s.get("n_assessed"):
        return (
            f" Whether the claims survive resampling and chance is not known yet"
            f" (seldb uncertainty --run {run.run_id})."
        )
    return (
        f" {s['n_robust']:,} of the {s['n_assessed']:,} claims assessed are robust: precision_60's lower"
        " bound stays above 0.75 and its q-value against shuffled labels is below 0.05."
    )


DETECTOR_COLUMNS = [
    "unit_label",
    "category",
    "label",
    "iou",
    "source",
    "precision_60",
    "precision_60_class",
    "ccmas",
    "ccmas_class",
    "recall_p1",
    "max_informedness",
    "mi_class",
]


def netdissect_detectors(conn: sa.Connection, run_id: int) -> tuple[Section, str] | None:
    """(the section, a one-sentence note), or None when no layer of the run was dissected."""
    tops = frame(
        conn,
        f"SELECT {', '.join(DETECTOR_COLUMNS)}, is_detector FROM seldb.netdissect"
        " WHERE run_id = :r AND is_top ORDER BY iou DESC NULLS LAST, layer, unit",
        {"r": run_id},
    )
    if tops.is_empty():
        return None
    detectors = tops.filter(pl.col("is_detector")).drop("is_detector")
    note = (
        f"Network Dissection calls {detectors.height:,} of the {tops.height:,} dissected units detectors"
        " (the IoU of their top label exceeds 0.04, Bau et al. 2017)"
    )
    if detectors["precision_60"].is_not_null().any():
        claimed = detectors.filter(pl.col("precision_60") > 0.75).height
        note += f"; {claimed:,} of them also pass the precision criterion (precision_60 > 0.75)"
    section = Section("netdissect", "Network Dissection detectors: top-label IoU > 0.04", detectors)
    return section, note + "."
