"""Writes bars_cn.xls, a legacy Excel 97-2003 (BIFF8) workbook for aibt's import tests, and
bars_cn.expected.csv, the bars aibt should read from it.

    /root/.cache/aibt/pyresample/bin/python tools/reference/xls_fixture.py

(venv: see tools/reference/requirements-resample.txt; xlwt writes the .xls.) No arguments;
deterministic. The workbook looks like a Chinese broker/terminal export:

- sheet 1 `日线`: row 1 a title cell (`平安银行(000001) 日线 前复权`) above the header, row 2 the
  header `日期, 开盘, 最高, 最低, 收盘, 成交量`, then 5 daily bars 2024-01-02 .. 2024-01-08 (the
  weekend 01-06/07 skipped). Dates are real Excel date cells (a serial number with the number
  format `yyyy-mm-dd`), prices numbers shown with 2 decimals, volumes integers.
- sheet 2 `说明`: a note, so a reader that takes the first sheet is distinguishable from one that
  takes the last or merges them.

The prices are illustrative values of the right size, not real quotes. The expected CSV uses
aibt's layout (`timestamp` at 00:00 UTC of the date) with the values written the way
resample_fixtures.py writes them: plain decimals, trailing zeros stripped (9.20 -> 9.2).
"""
import datetime
import pathlib
from decimal import Decimal

import xlwt

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "crates" / "aibt-data" / "tests" / "fixtures"
XLS = FIXTURES / "bars_cn.xls"
EXPECTED = FIXTURES / "bars_cn.expected.csv"

TITLE = "平安银行(000001) 日线 前复权"
HEADER = ["日期", "开盘", "最高", "最低", "收盘", "成交量"]
# date, open, high, low, close (2-decimal strings, kept exact for the expected CSV), volume
BARS = [
    (datetime.date(2024, 1, 2), "9.39", "9.42", "9.21", "9.21", 1158366),
    (datetime.date(2024, 1, 3), "9.19", "9.22", "9.15", "9.20", 733610),
    (datetime.date(2024, 1, 4), "9.19", "9.19", "9.08", "9.11", 864510),
    (datetime.date(2024, 1, 5), "9.10", "9.38", "9.10", "9.27", 1299786),
    (datetime.date(2024, 1, 8), "9.23", "9.25", "9.11", "9.15", 775000),
]
NOTE = [
    "数据说明：本工作簿第一个工作表为日线行情，第一行为标题，第二行为表头。",
    "价格单位：元；成交量单位：股。价格为示例数据，仅供测试。",
]


def plain(d):
    """A Decimal as a plain string without trailing zeros after the point (as resample_fixtures)."""
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def main():
    for date, o, h, l, c, v in BARS:
        o, h, l, c = map(Decimal, (o, h, l, c))
        assert date.weekday() < 5, date
        assert h >= max(o, c) and l <= min(o, c), date
        assert isinstance(v, int) and v > 0
    assert [b[0] for b in BARS] == sorted(b[0] for b in BARS)

    book = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    price_style = xlwt.easyxf(num_format_str="0.00")
    int_style = xlwt.easyxf(num_format_str="0")
    bold = xlwt.easyxf("font: bold on")

    sheet = book.add_sheet("日线")
    sheet.write(0, 0, TITLE, bold)
    for col, name in enumerate(HEADER):
        sheet.write(1, col, name, bold)
    for i, (date, o, h, l, c, v) in enumerate(BARS):
        r = i + 2
        sheet.write(r, 0, date, date_style)  # xlwt stores a date as its Excel serial number
        for col, price in enumerate((o, h, l, c), start=1):
            sheet.write(r, col, float(price), price_style)
        sheet.write(r, 5, v, int_style)
    sheet.col(0).width = 256 * 12

    notes = book.add_sheet("说明")
    for r, line in enumerate(NOTE):
        notes.write(r, 0, line)
    notes.col(0).width = 256 * 60

    book.save(str(XLS))
    print(f"wrote {XLS.relative_to(ROOT)} (sheets 日线, 说明)")
    print(f"  row 1: {TITLE}")
    print(f"  row 2: {', '.join(HEADER)}")
    for i, (date, o, h, l, c, v) in enumerate(BARS):
        print(f"  row {i + 3}: {date.isoformat()}, {o}, {h}, {l}, {c}, {v}")

    with open(EXPECTED, "w", newline="") as f:
        f.write("timestamp,open,high,low,close,volume\n")
        for date, o, h, l, c, v in BARS:
            prices = ",".join(plain(Decimal(p)) for p in (o, h, l, c))
            f.write(f"{date.isoformat()}T00:00:00Z,{prices},{v}\n")
    print(f"wrote {EXPECTED.relative_to(ROOT)} ({len(BARS)} rows)")


if __name__ == "__main__":
    main()
