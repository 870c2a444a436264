"""What a report is: a titled set of tables read from the views, a few
sentences, and the files it wrote (plots).

Every report module returns a `Report`, so the CLI, notebooks and tests get
the same object: the CLI prints it, `save()` writes it as CSV, JSON or
Markdown, and `Section.frame` is a polars frame for further work. A report
holds no numbers of its own: every value comes from a view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

import seldb.render as render
from seldb.errors import InputError
from seldb.render import safe_name

FILE_FORMATS = ("csv", "json", "markdown")


@dataclass
class Section:
    """One table of a report; `brief` names the columns a terminal shows (None = all)."""

    name: str
    title: str
    frame: pl.DataFrame
    brief: list[str] | None = None

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def rows(self, brief: bool = False) -> tuple[list[str], list[tuple]]:
        columns = [c for c in self.brief if c in self.frame.columns] if brief and self.brief else self.columns
        return columns, self.frame.select(columns).rows()


@dataclass
class Report:
    name: str  # e.g. "correlations"
    title: str
    run_id: int
    sections: list[Section]
    notes: list[str] = field(default_factory=list)  # plain-language paragraphs shown above the tables
    files: list[Path] = field(default_factory=list)  # plots and sidecars written
    qualifier: str = ""  # what else tells this report's files apart, e.g. the unit label

    @property
    def stem(self) -> str:
        """File names start with it: <report>-run<ID>[-<qualifier>]."""
        return "-".join(part for part in (self.name, f"run{self.run_id}", safe_name(self.qualifier)) if part)

    def section(self, name: str) -> Section:
        for section in self.sections:
            if section.name == name:
                return section
        raise KeyError(name)

    def to_text(self, fmt: str, digits: int = render.DIGITS) -> str:
        """The whole report as CSV (sections one after the other), JSON or Markdown (floats to `digits`)."""
        if fmt == "csv":
            if len(self.sections) == 1:
                return render.to_csv(*self.sections[0].rows())
            return "\n".join(f"# {s.name}\n" + render.to_csv(*s.rows()) for s in self.sections)
        if fmt == "json":
            return json.dumps(self._as_dict(), indent=2, allow_nan=False) + "\n"
        if fmt == "markdown":
            return self._markdown(digits)
        raise InputError(f"unknown format {fmt!r}: use one of {', '.join(FILE_FORMATS)}")

    def _as_dict(self) -> dict:
        return {
            "report": self.name,
            "title": self.title,
            "run_id": self.run_id,
            "qualifier": self.qualifier,
            "notes": self.notes,
            "tables": {s.name: render.records(*s.rows()) for s in self.sections},
            "files": [str(p) for p in self.files],
        }

    def _markdown(self, digits: int) -> str:
        parts = [f"# {self.title}\n"] + [f"{note}\n" for note in self.notes]
        for s in self.sections:
            heading = "" if s.title == self.title else f"## {s.title}\n\n"
            parts.append(heading + render.to_markdown(*s.rows(), digits=digits))
        return "\n".join(parts)

    def save(self, out_dir: str | Path, fmt: str = "csv") -> list[Path]:
        """Write the report into out_dir: a CSV per table (notes in a .txt), or one .json / .md."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if fmt == "json":
            paths = [out / f"{self.stem}.json"]
            paths[0].write_text(self.to_text("json"), encoding="utf-8")
        elif fmt == "markdown":
            paths = [out / f"{self.stem}.md"]
            paths[0].write_text(self.to_text("markdown"), encoding="utf-8")
        elif fmt == "csv":
            paths = self._save_csv(out)
        else:
            raise InputError(f"unknown format {fmt!r}: use one of {', '.join(FILE_FORMATS)}")
        return paths

    def _save_csv(self, out: Path) -> list[Path]:
        paths = []
        for s in self.sections:
            path = out / (f"{self.stem}.csv" if s.name == self.name else f"{self.stem}-{s.name}.csv")
            path.write_text(render.to_csv(*s.rows()), encoding="utf-8")
            paths.append(path)
        if self.notes:
            paths.append(out / f"{self.stem}.txt")
            paths[-1].write_text("\n\n".join(self.notes) + "\n", encoding="utf-8")
        return paths
