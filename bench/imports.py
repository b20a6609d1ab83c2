"""Importing the district's lists from .xlsx, beside openpyxl reading the same files alone.

The files are the 2018 demo district written out: the tax list (15,099 units) and the member
system's records (101,240 members, one row each, spread over the units by their member
counts). Each import runs in a fresh child process (max RSS is then the import's own) into
a database holding only the streets: read, check every row, work out the changes, write them
in one transaction. The reference is openpyxl alone iterating the same files' values in
read-only mode, also in a child process.

`python -m bench.imports` prints the rows; `python -m bench` includes them.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlmodel import col, select

from bench.rss import max_rss_mib
from bot.db import Database
from models.demo import seed_demo
from models.geography import sync_geography
from models.plan import load_plan
from models.tables import Street, Unit
from models.unit_import import ImportKind, apply_import, check, load_facts, plan_changes, read_sheet

PLAN_FILE = Path(__file__).resolve().parents[1] / "plans" / "fangshan-2018.toml"
MEMBERS = 101_240  # the plan's baseline: members in the member system
TODAY = date(2018, 3, 15)


async def write_files(folder: Path) -> tuple[Path, Path]:
    """units.xlsx and member_system.xlsx from the seeded demo district."""
    plan = load_plan(PLAN_FILE)
    db = Database(f"sqlite+aiosqlite:///{folder}/source.db")
    await db.upgrade()
    async with db.session(write=True) as session:
        await seed_demo(session=session, plan=plan)
    async with db.session() as session:
        query = (
            select(  # type: ignore[call-overload]
                Unit.name, Unit.credit_code, Street.name, Unit.tax_headcount,
                   Unit.social_security_headcount, Unit.member_count)
            .join(Street, col(Street.id) == Unit.street_id)
            .order_by(col(Unit.id))
        )  # fmt: skip
        units = list((await session.exec(query)).all())
    await db.dispose()

    book = Workbook(write_only=True)
    sheet = book.create_sheet("明细表")
    sheet.append(["单位名称", "统一社会信用代码", "所属街乡", "个税人数", "社保人数"])
    for name, code, street, tax, social, _ in units:
        sheet.append([name, code, street, tax, social])
    units_file = folder / "units.xlsx"
    book.save(units_file)

    # Members by unit as the demo counts them, topped up or cut to exactly the baseline.
    counts = [max(0, c) for *_, c in units]
    short = MEMBERS - sum(counts)
    for i in range(abs(short)):
        counts[i % len(counts)] += 1 if short > 0 else -1 if counts[i % len(counts)] else 0
    book = Workbook(write_only=True)
    sheet = book.create_sheet("会员")
    sheet.append(["姓名", "身份证号", "工作单位", "单位统一社会信用代码", "入会时间"])
    person = 0
    for (name, code, *_), count in zip(units, counts, strict=True):
        for _ in range(count):
            person += 1
            joined = date(2010, 1, 1) + timedelta(days=person % 2900)
            sheet.append([f"会员{person}", f"110111{person:012d}", name, code, joined])
    members_file = folder / "member_system.xlsx"
    book.save(members_file)
    return units_file, members_file


async def import_files(database: str, files: list[tuple[str, Path]]) -> dict[str, object]:
    """Each file imported in turn; seconds per phase, and the counts written."""
    db = Database(database)
    await db.upgrade()
    async with db.session(write=True) as session:
        await sync_geography(session=session, plan=load_plan(PLAN_FILE))
    figures: dict[str, object] = {}
    now = datetime(2018, 3, 15, 2, tzinfo=UTC)
    for kind, path in files:
        started = time.perf_counter()
        table = read_sheet(path.read_bytes(), path.name)
        read = time.perf_counter()
        async with db.session() as session:
            facts = await load_facts(session=session)
        review = check(table, ImportKind(kind), facts, today=TODAY)
        plan_changes(review, facts, today=TODAY)
        checked = time.perf_counter()
        async with db.session(write=True) as session:
            result = await apply_import(session=session, review=review, by_user_id=None,
                                        now=now, today=TODAY, file_name=path.name)  # fmt: skip
        written = time.perf_counter()
        figures[kind] = {
            "rows": review.rows, "problems": len(review.problems), "read_s": read - started,
            "check_s": checked - read, "write_s": written - checked, "total_s": written - started,
            "inserted": result.inserted, "updated": result.updated, "sources": result.sources,
        }  # fmt: skip
    await db.dispose()
    figures["max_rss_mib"] = max_rss_mib()
    return figures


def read_alone(path: Path) -> dict[str, float]:
    """openpyxl alone: every value of the first sheet, read-only, as the import reads it."""
    started = time.perf_counter()
    book = load_workbook(path, read_only=True, data_only=True)
    cells = sum(len(row) for row in book.worksheets[0].iter_rows(values_only=True))
    book.close()
    return {"seconds": time.perf_counter() - started, "cells": cells,
            "max_rss_mib": max_rss_mib()}  # fmt: skip


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.imports", *args], capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench_imports(folder: Path, database: str | None = None) -> list[tuple[str, str]]:
    """Rows for the table; `database` (a fresh one; default a SQLite file in `folder`) is
    where the child imports. The files are written once per folder."""
    units_file, members_file = folder / "units.xlsx", folder / "member_system.xlsx"
    if not (units_file.exists() and members_file.exists()):
        units_file, members_file = asyncio.run(write_files(folder))
    alone = {p.name: _child("--read-alone", str(p)) for p in (units_file, members_file)}
    ours = _child("--import", database or f"sqlite+aiosqlite:///{folder}/import.db",
                  str(units_file), str(members_file))  # fmt: skip
    rows = []
    for kind, path, label in (("units", units_file, "units"),
                              ("member_system", members_file, "member records")):  # fmt: skip
        f = ours[kind]
        assert isinstance(f, dict) and f["problems"] == 0, f
        ref = alone[path.name]["seconds"]
        assert isinstance(ref, float)
        rows.append((
            f"import {f['rows']:,} {label} from .xlsx (read, check, write)",
            f"{f['total_s']:.1f} s = read {f['read_s']:.1f} + check {f['check_s']:.1f} + write "
            f"{f['write_s']:.1f}; openpyxl alone {ref:.1f} s: {f['total_s'] / ref:.2f}× "
            f"(target ≤ 2×)",
        ))  # fmt: skip
    total = sum(float(ours[k]["total_s"]) for k in ("units", "member_system"))
    reference = sum(float(a["seconds"]) for a in alone.values())
    rows.append(("import both files, in all",
                 f"{total:.1f} s (target ≤ 60 s); openpyxl alone {reference:.1f} s: "
                 f"{total / reference:.2f}× (target ≤ 2×)"))  # fmt: skip
    peak_alone = max(float(a["max_rss_mib"]) for a in alone.values())
    peak = float(ours["max_rss_mib"])
    rows.append(("import peak memory (max RSS of the importing process)",
                 f"{peak:.0f} MiB; openpyxl reading alone {peak_alone:.0f} MiB"))  # fmt: skip
    return rows


def main() -> None:
    if sys.argv[1:2] == ["--read-alone"]:
        print(json.dumps(read_alone(Path(sys.argv[2]))))
    elif sys.argv[1:2] == ["--import"]:
        files = list(zip(("units", "member_system"), map(Path, sys.argv[3:5]), strict=True))
        print(json.dumps(asyncio.run(import_files(sys.argv[2], files))))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for name, value in bench_imports(Path(tmp)):
                print(f"{name}  {value}")


if __name__ == "__main__":
    main()
