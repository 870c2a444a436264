"""`seldb report unit fc6.1199`: everything the views know about one unit.

Its measures one per row (with the class and threshold each one chose), its
most active classes and a class of interest from seldb.unit_class_stats, its
top images, and, where present, its concept measures, Network Dissection
labels and human AM ratings. With plot=True, the picture of seldb.reports.unit_plot.
The class of interest defaults to the unit's precision class, the class the
precision criterion would call it a detector of.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import sqlalchemy as sa

from seldb import catalogue
from seldb.db.database import Database
from seldb.db.read import Run, find_unit, frame, resolve_run
from seldb.errors import InputError, NotFound, SeldbError, did_you_mean
from seldb.reports.base import Report, Section
from seldb.reports.intervals import unit_uncertainty

CLASS_COLUMNS = "class, class_key, n, mean, std, sem, min, max, frac_nonzero, ccmas, max_informedness, mi_threshold"
# what each optional view contributes, when it has rows for the unit
EXTRA_SECTIONS = [
    (
        "concepts",
        "concept measures (Tables A3-A5)",
        "seldb.concept_measures",
        "concept",
        "concept, n_a, mean_a, mean_not_a, precision_60, precision_100, ccmas, max_informedness, mi_recall,"
        " mi_false_alarm_rate, mi_false_discovery_rate, recall_p1, recall_p95, iou",
    ),
    (
        "netdissect",
        "Network Dissection labels",
        "seldb.netdissect",
        "is_top DESC, iou DESC NULLS LAST",
        "category, label, is_top, score, iou, is_detector, source",
    ),
    (
        "ratings",
        "human ratings of the AM image",
        "seldb.am_ratings",
        "rater",
        "rater, judged_object, label, label_key, matches_top_class, matches_ccmas_class",
    ),
    (
        "am_images",
        "activation-maximisation images (seldb am)",
        "seldb.am_images",
        "created_at DESC",
        "method, seed, steps, size, pre_relu, activation, reference_activation, dataset_max, exceeds_dataset_max, path",
    ),
]


def unit_report(
    db: Database,
    unit_label: str,
    run: int | None = None,
    class_name: str | None = None,
    n: int = 10,
    plot: bool = False,
    out_dir: str | Path = ".",
    use_file: bool = True,
    top_images: int | None = None,
) -> Report:
    """The unit's measures, classes, top images and imported results; plot=True adds the Figure 3 PNG,
    top_images=N a contact sheet of its N most active images ("natural AM")."""
    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    with db.connect() as conn:
        r = resolve_run(conn, run)
        layer, unit = find_unit(conn, r, unit_label)
        where = {"r": r.run_id, "l": layer, "u": unit}
        query = "SELECT * FROM seldb.unit_measures WHERE run_id = :r AND layer = :l AND unit = :u"
        row = conn.execute(sa.text(query), where).mappings().one_or_none()
        if row is None:  # a run made by seldb dissect has units but no class-selectivity measures
            sections = [s for s in (_extra(conn, where, *spec) for spec in EXTRA_SECTIONS) if s is not None]
            return Report(
                "unit",
                f"Unit {layer}.{unit}: {r.name}",
                r.run_id,
                sections,
                qualifier=f"{layer}.{unit}",
                notes=[f"{r.name} has no class-selectivity measures (a run made by seldb dissect)."],
            )
        chosen = _class_of_interest(conn, r, where, class_name, row)
        sections = [_measures(conn, where, row)] + _class_sections(conn, where, chosen, n)
        sections += [s for s in (_extra(conn, where, *spec) for spec in EXTRA_SECTIONS) if s is not None]
        report = Report("unit", f"Unit {layer}.{unit}: {r.name}", r.run_id, sections, qualifier=f"{layer}.{unit}")
        if plot:
            from seldb.reports.unit_plot import plot_unit  # matplotlib only when asked

            report.files = plot_unit(conn, r, layer, unit, chosen, out_dir, use_file=use_file)
        sheet = _top_images_sheet(conn, report, layer, unit, top_images, out_dir) if top_images is not None else None
    why = (
        "as asked"
        if class_name
        else "the unit's precision class"
        if chosen == row["precision_60_class"]
        else ("the unit has no precision class: its CCMAS or informedness class")
    )
    report.notes = [f"Class of interest: {chosen} ({why})."] + ([sheet.note] if sheet and sheet.note else [])
    return report


def _top_images_sheet(conn: sa.Connection, report: Report, layer: str, unit: int, n: int, out_dir: str | Path):
    from seldb.am.contact_sheet import top_images_sheet  # PIL only when asked

    sheet = top_images_sheet(conn, report.run_id, layer, unit, n, Path(out_dir) / f"{report.stem}-top{n}.png")
    report.files += [sheet.path] if sheet.path else []
    return sheet


def _measures(conn: sa.Connection, where: dict, row) -> Section:
    """unit_measures' row as (measure, value, class, threshold) rows, then any extra top-k precision."""
    records = []
    for m in catalogue.values():  # each measure with the class and threshold it refers to
        value = row[m.name]
        records.append(
            {
                "measure": m.name,
                "value": None if value is None else float(value),
                "class": row[m.class_column] if m.class_column else None,
                "threshold": row[m.threshold_column] if m.threshold_column else None,
            }
        )
    extra = conn.execute(
        sa.text(
            "SELECT k, precision, class FROM seldb.unit_precision_k WHERE run_id = :r AND layer = :l AND unit = :u"
            " AND NOT k = ANY(:shown) ORDER BY k"
        ),
        {**where, "shown": list(catalogue.DEFAULT_TOP_K)},
    )
    records += [{"measure": f"precision_{k}", "value": p, "class": c, "threshold": None} for k, p, c in extra]
    schema = {"measure": pl.String, "value": pl.Float64, "class": pl.String, "threshold": pl.Float64}
    measures = unit_uncertainty(conn, where, pl.DataFrame(records, schema=schema))  # intervals, when computed
    return Section("measures", "measures", measures)


def _class_of_interest(conn: sa.Connection, run: Run, where: dict, class_name: str | None, row) -> str:
    """The class label `class_name` names (label, name or key, any case); default the precision class."""
    if class_name is None:
        chosen = row["precision_60_class"] or row["ccmas_class"] or row["mi_class"]
        if chosen is None:
            raise SeldbError(f"{row['unit_label']} has no class by any measure: name one with --class")
        return chosen
    found = (
        conn.execute(
            sa.text(
                "SELECT class FROM seldb.unit_class_stats WHERE run_id = :r AND layer = :l AND unit = :u"
                " AND (lower(class) = lower(:c) OR lower(class_key) = lower(:c)) ORDER BY class_index"
            ),
            {**where, "c": class_name.strip()},
        )
        .scalars()
        .all()
    )
    exact = [label for label in found if label == class_name.strip()]  # a case-sensitive match settles it
    if len(found) == 1 or len(exact) == 1:
        return found[0] if len(found) == 1 else exact[0]
    if found:
        raise InputError(f"class {class_name!r} is ambiguous in {run.name}: {', '.join(found)}")
    labels = (
        conn.execute(
            sa.text("SELECT DISTINCT class FROM seldb.unit_class_stats WHERE run_id = :r AND layer = :l AND unit = :u"),
            where,
        )
        .scalars()
        .all()
    )
    raise NotFound(f"no class {class_name!r} in {run.name}{did_you_mean(class_name, labels)}")


def _class_sections(conn: sa.Connection, where: dict, chosen: str, n: int) -> list[Section]:
    base = f"SELECT {CLASS_COLUMNS} FROM seldb.unit_class_stats WHERE run_id = :r AND layer = :l AND unit = :u"
    top = frame(conn, base + " ORDER BY mean DESC NULLS LAST, class_index LIMIT :n", {**where, "n": n})
    mine = frame(conn, base + " AND class = :c", {**where, "c": chosen})
    images = frame(
        conn,
        "SELECT rank, image_index, class, activation, image_path FROM seldb.unit_top_images"
        " WHERE run_id = :r AND layer = :l AND unit = :u AND rank <= :n ORDER BY rank",
        {**where, "n": n},
    )
    return [
        Section("class", f"class of interest: {chosen}", mine),
        Section("classes", f"the {n} classes with the highest mean activation", top),
        Section("top_images", f"the {n} most active images", images),
    ]


def _extra(conn: sa.Connection, where: dict, name: str, title: str, view: str, order: str, columns: str):
    rows = frame(
        conn, f"SELECT {columns} FROM {view} WHERE run_id = :r AND layer = :l AND unit = :u ORDER BY {order}", where
    )
    return Section(name, title, rows) if rows.height else None
