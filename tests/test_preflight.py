"""Bad input caught before TFX starts: each case gets one clear line, a row of the anomaly table,
and the kind of error that maps to its exit code (DataInputError: 4, ConfigError: 2).

Data: a few real rows of the taxi sample, laid out as spans, checked against the curated schema.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config
from pipeline.inputs.preflight import DataInputError
from pipeline.inputs.prepare import prepare_input
from pipeline.inputs.sources import tfx_taxi_csv

PROJECT = Path(__file__).resolve().parents[1]
TAXI = PROJECT / "pipeline" / "configs" / "taxi.toml"


def _taxi_lines(rows: int) -> list[str]:
    with open(tfx_taxi_csv(), encoding="utf-8") as handle:
        return [line for _, line in zip(range(rows + 1), handle, strict=False)]


@pytest.fixture
def shop(tmp_path):
    """A folder source with spans 1 and 2 of real taxi rows, and a config that reads it."""
    lines = _taxi_lines(40)
    for span, part in ((1, lines[1:21]), (2, lines[21:])):
        folder = tmp_path / "spans" / f"span-{span}"
        folder.mkdir(parents=True)
        (folder / "trips.csv").write_text(lines[0] + "".join(part))
    text = TAXI.read_text()
    for old, new in {'source = "tfx:chicago_taxi"': f'source = "{tmp_path / "spans"}"',
                     '# pattern = "span-{SPAN}/*.csv"': 'pattern = "span-{SPAN}/*.csv"',
                     "window = 24 ": "window = 2 ",
                     'output_root = "outputs"': f'output_root = "{tmp_path / "out"}"'}.items():
        assert text.count(old) == 1
        text = text.replace(old, new)
    config = tmp_path / "taxi.toml"
    config.write_text(text +
                      f'\n[schema]\npath = "{PROJECT / "schemas" / "taxi" / "schema.pbtxt"}"\n')

    class Shop:
        root = tmp_path
        header = lines[0].rstrip("\n").split(",")
        rows = [next(csv.reader([line])) for line in lines[21:]]

        def span(self, number: int, text: str | bytes, name: str = "trips.csv") -> Path:
            folder = tmp_path / "spans" / f"span-{number}"
            folder.mkdir(exist_ok=True)
            path = folder / name
            (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
            return path

        def csv_text(self, header: list[str], rows: list[list[str]]) -> str:
            import io

            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
            return out.getvalue()

        def config(self, **overrides):
            from dataclasses import replace

            loaded = load_config(config)
            spans = replace(loaded.spans, **{k: v for k, v in overrides.items()
                                             if k in ("span", "window")})
            validation = replace(loaded.validation, **{k: v for k, v in overrides.items()
                                                       if k == "new_columns"})
            return replace(loaded, spans=spans, validation=validation)

    return Shop()


def halted(config) -> list[dict[str, str]]:
    with pytest.raises(DataInputError) as info:
        prepare_input(config)
    message = str(info.value)
    assert "\n" not in message
    return info.value.rows


def test_good_spans_pass_and_are_fingerprinted(shop):
    data = prepare_input(shop.config())
    assert [s.span for s in data.spans] == [1, 2] and data.selection.target == 2
    assert [f.rows for s in data.spans for f in s.files] == [20, 20]
    assert all(len(f.sha256) == 64 for f in data.files)


def test_a_rerun_reads_the_findings_kept_for_unchanged_files_and_rereads_changed_ones(
        shop, monkeypatch):
    from pipeline.inputs import checked_files

    rows = [list(r) for r in shop.rows]
    rows[1][shop.header.index("trip_miles")] = "twelve"  # not a number
    shop.span(2, shop.csv_text(shop.header, rows))

    real_digest, hashed = checked_files.file_digest, []

    def hashed_once(path):  # per run: prepare_input hashes each file, the checks reuse it
        if path in hashed:
            raise AssertionError(f"{path} was hashed twice: prepare_input has its digest")
        hashed.append(path)
        return real_digest(path)

    monkeypatch.setattr(checked_files, "file_digest", hashed_once)
    first = halted(shop.config())
    kept = sorted((shop.root / "out" / checked_files.FOLDER).glob("*.json"))
    assert len(kept) == 2  # one per file of the window

    def read_again(*args):
        raise AssertionError("an unchanged file was read again")

    monkeypatch.setattr(checked_files, "read_csv", read_again)
    hashed.clear()
    assert halted(shop.config()) == first  # the same rows, from the kept findings
    hashed.clear()
    passed = prepare_input(shop.config(window=1, span=1))
    assert passed.rows == 20 and passed.delimiter == ","

    monkeypatch.undo()
    rows[1][shop.header.index("trip_miles")] = "1.5"
    shop.span(2, shop.csv_text(shop.header, rows))  # the file changed: read again
    kept[0].write_text("{not json")  # and a damaged finding is read from its CSV again
    data = prepare_input(shop.config())
    assert data.rows == 40 and not [r for r in data.reported if r["kind"] == "NOT_NUMERIC"]
    assert len(list((shop.root / "out" / checked_files.FOLDER).glob("*.json"))) == 3


def test_empty_file(shop):
    shop.span(3, "")
    [row] = halted(shop.config())
    assert (row["kind"], row["span"], row["observed"]) == ("EMPTY_FILE", 3, "0 rows")
    assert "the file is empty" in row["description"]


def test_header_only(shop):
    shop.span(3, ",".join(shop.header) + "\n")
    [row] = halted(shop.config())
    assert row["kind"] == "NO_DATA_ROWS" and "has a header but no data rows" in row["description"]


def test_missing_label_column(shop):
    at = shop.header.index("tips")
    shop.span(3, shop.csv_text([c for c in shop.header if c != "tips"],
                               [r[:at] + r[at + 1:] for r in shop.rows]))
    [row] = halted(shop.config())
    assert (row["feature"], row["kind"]) == ("tips", "SCHEMA_MISSING_COLUMN")
    assert "label column 'tips' is not in the header" in row["description"]
    assert (row["observed"], row["threshold"]) == ("absent", "present")


def test_missing_feature_column(shop):
    at = shop.header.index("trip_miles")
    shop.span(3, shop.csv_text([c for c in shop.header if c != "trip_miles"],
                               [r[:at] + r[at + 1:] for r in shop.rows]))
    [row] = halted(shop.config())
    assert row["feature"] == "trip_miles" and "the feature 'trip_miles'" in row["description"]


def test_extra_unknown_column_halts_by_default_and_can_be_reported(shop):
    shop.span(3, shop.csv_text([*shop.header, "surge"], [[*r, "1.5"] for r in shop.rows]))
    [row] = halted(shop.config())
    assert (row["feature"], row["kind"], row["severity"]) == ("surge", "SCHEMA_NEW_COLUMN", "halt")
    assert "tfxpipe schema" in row["description"]
    data = prepare_input(shop.config(new_columns="report"))
    [reported] = data.reported
    assert reported["feature"] == "surge" and reported["severity"] == "report"


def test_malformed_quoting(shop):
    lines = shop.csv_text(shop.header, shop.rows).splitlines(keepends=True)
    lines[5] = lines[5].replace(",", ',"', 1)  # a quote opened and never closed
    shop.span(3, "".join(lines))
    [row] = halted(shop.config())
    assert row["kind"] == "MALFORMED_CSV" and "line 6" in row["description"]
    assert "quote" in row["description"]


def test_text_after_a_closing_quote(shop):
    lines = shop.csv_text(shop.header, shop.rows).splitlines(keepends=True)
    lines[3] = '"Cash"x,' + lines[3]
    shop.span(3, "".join(lines))
    [row] = halted(shop.config())
    assert row["kind"] == "MALFORMED_CSV" and "line 4" in row["description"]


def test_a_record_with_too_many_fields(shop):
    lines = shop.csv_text(shop.header, shop.rows).splitlines(keepends=True)
    lines[2] = lines[2].rstrip("\n") + ",extra\n"
    shop.span(3, "".join(lines))
    [row] = halted(shop.config())
    assert (row["observed"], row["threshold"]) == (f"{len(shop.header) + 1} fields",
                                                   f"{len(shop.header)} fields")


def test_bytes_that_are_not_utf8(shop):
    text = shop.csv_text(shop.header, shop.rows).encode("utf-8")
    cut = text.index(b"\n", text.index(b"\n") + 1) + 1  # the start of line 3
    shop.span(3, text[:cut] + b"Caf\xe9" + text[cut:])
    [row] = halted(shop.config())
    assert row["kind"] == "NOT_UTF8" and "line 3" in row["description"]
    assert "re-encode the file as UTF-8" in row["description"]


def test_files_of_a_span_with_different_headers(shop):
    shop.span(3, shop.csv_text(shop.header, shop.rows), name="a.csv")
    shop.span(3, shop.csv_text(list(reversed(shop.header)), shop.rows), name="b.csv")
    rows = halted(shop.config())
    [row] = [r for r in rows if r["kind"] == "MALFORMED_CSV"]
    assert "differs from that of a.csv" in row["description"]
    # Read with b.csv's own header, its values are in the wrong columns: said too.
    assert {r["kind"] for r in rows} == {"MALFORMED_CSV", "NOT_NUMERIC"}


def test_a_bad_span_outside_the_window_is_not_read(shop):
    shop.span(1, "")  # span 1 is out of a window of one span ending at 2
    assert [s.span for s in prepare_input(shop.config(window=1)).spans] == [2]


def test_a_span_folder_that_does_not_exist_is_a_usage_error(shop):
    with pytest.raises(ConfigError) as info:
        prepare_input(shop.config(span=99))
    assert not isinstance(info.value, DataInputError)
    message = str(info.value)
    assert "span 99 does not exist" in message and "there is no folder" in message
    assert "spans available: 1-2" in message


def test_a_config_that_points_to_nothing(shop, tmp_path):
    text = (shop.root / "taxi.toml").read_text().replace(str(shop.root / "spans"),
                                                         str(tmp_path / "nowhere"))
    (shop.root / "nowhere.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(shop.root / "nowhere.toml")
    assert "data source not found" in str(info.value)


def test_a_folder_with_no_span_folders(shop, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    text = (shop.root / "taxi.toml").read_text().replace(str(shop.root / "spans"), str(empty))
    (shop.root / "empty.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        prepare_input(load_config(shop.root / "empty.toml"))
    assert "no data files match" in str(info.value) and "span-{SPAN}/*.csv" in str(info.value)


def _write_with(shop, delimiter: str, rows=None, name: str = "trips.csv", span: int = 3,
                header=None) -> Path:
    import io

    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header or shop.header)
    writer.writerows(rows if rows is not None else shop.rows)
    return shop.span(span, out.getvalue(), name=name)


def test_a_semicolon_file_is_read_with_the_delimiter_its_header_is_written_with(shop):
    for span in (1, 2):
        _write_with(shop, ";", span=span)
    data = prepare_input(shop.config())
    assert data.delimiter == ";" and data.reported == []


def test_a_configured_delimiter_the_file_does_not_use_is_one_line_with_the_fix(shop):
    from dataclasses import replace

    _write_with(shop, ";")
    config = shop.config()
    config = replace(config, data=replace(config.data, delimiter=","))
    [row] = halted(config)
    assert row["kind"] == "WRONG_DELIMITER"
    assert "set [data] delimiter = ';'" in row["description"]


def test_files_written_with_different_delimiters_halt_once(shop):
    _write_with(shop, ";", span=2)
    [row] = halted(shop.config())
    assert row["kind"] == "MIXED_DELIMITERS" and "span-2" in row["file"]


def test_a_header_repeated_inside_a_file_is_one_line_with_its_line_number(shop):
    rows = shop.rows[:5] + [shop.header] + shop.rows[5:]
    _write_with(shop, ",", rows=rows)
    [row] = halted(shop.config())
    assert row["kind"] == "REPEATED_HEADER" and "line 7 repeats the header" in row["description"]


def test_a_byte_order_mark_is_not_part_of_the_first_column(shop):
    path = _write_with(shop, ",")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert prepare_input(shop.config()).reported == []


def test_missing_values_as_users_write_them_pass_and_other_text_is_named(shop):
    fare = shop.header.index("fare")
    rows = [list(r) for r in shop.rows]
    for row, token in zip(rows, ["NA", " n/a ", "NaN", "null", "None", "-", " 7.5 "],
                          strict=False):
        row[fare] = token
    _write_with(shop, ",", rows=rows)
    assert prepare_input(shop.config()).reported == []
    rows[7][fare], rows[8][fare] = "unknown", "12 dollars"
    _write_with(shop, ",", rows=rows)
    [row] = halted(shop.config())
    assert row["kind"] == "NOT_NUMERIC" and row["feature"] == "fare"
    assert "'unknown', '12 dollars'" in row["description"]
    assert "add them to [data] missing_values" in row["description"]
    assert row["observed"] == f"2 of {len(rows)} rows"


def test_empty_lines_are_not_counted_as_rows(tmp_path):
    """ExampleGen skips them: a file ending in blank lines was said to hold more rows than the
    pipeline read."""
    from pipeline.inputs.csv_files import read_csv

    path = tmp_path / "blank.csv"
    path.write_bytes(b"a,y\r\n1,0\r\n\r\n2,1\n\n\n")
    assert read_csv(str(path)).records == 2  # what prepare_input counts as the file's rows


def test_a_delimiter_at_the_end_of_every_line_is_named_with_the_fix(tmp_path):
    from pipeline.inputs.csv_files import read_csv

    path = tmp_path / "trailing.csv"
    path.write_text("a,b,y,\n1,x,0,\n2,y,1,\n")
    [row] = [r for r in read_csv(str(path)).problems if r["short"] == "Unnamed column"]
    assert "last column has no name" in row["description"] and "remove it" in row["description"]


def _coded(tmp_path: Path, codes: list[str], extra: str = "") -> Path:
    """A config of a CSV whose categorical column `zip` holds `codes`."""
    data = tmp_path / "codes.csv"
    data.write_text("a,zip,y\n" + "".join(f"{i}.5,{code},{i % 2}\n"
                                          for i, code in enumerate(codes)))
    config = tmp_path / "codes.toml"
    config.write_text(f"""
[pipeline]
name = "codes"
output_root = "{tmp_path / 'out'}"
[data]
source = "{data}"
{extra}
[label]
column = "y"
kind = "binary"
[features]
numeric = ["a"]
categorical = ["zip"]
""")
    return config


def _refusal(config: Path) -> str:
    """The one line a run of `config` is refused with before it starts (exit 2)."""
    with pytest.raises(ConfigError) as info:
        prepare_input(load_config(config))
    return str(info.value)


def _curated(config: Path, types: dict[str, str]) -> Path:
    """`config` with a curated schema of these {column: type} beside it."""
    schema = config.parent / "schema.pbtxt"
    schema.write_text("".join(f'feature {{ name: "{name}" type: {kind} }}\n'
                              for name, kind in types.items()))
    config.write_text(config.read_text() + f'[schema]\npath = "{schema}"\n')
    return config


def test_codes_written_with_leading_zeros_are_reported_with_the_key_that_keeps_them(tmp_path):
    config = _coded(tmp_path, ["007", "7", "NA", "0100", "12", "007"])
    [row] = prepare_input(load_config(config)).reported
    assert (row["feature"], row["kind"], row["severity"]) == ("zip", "LEADING_ZEROS", "report")
    assert row["observed"] == "3 of 6 rows"
    assert row["description"] == (
        "categorical column 'zip' holds codes written with leading zeros, e.g. '007', which are "
        "read as the number 7 (so '007' and '7' are one category, and a client sending '007' is "
        "refused): add 'zip' to [data] text_columns to keep them as written")
    kept = _coded(tmp_path, ["007", "7", "0100"], 'text_columns = ["zip"]')
    assert prepare_input(load_config(kept)).reported == []
    text = _coded(tmp_path, ["007", "A12", "0100"])  # text to ExampleGen already: kept as is
    assert prepare_input(load_config(text)).reported == []


def test_text_columns_must_be_categorical_and_agree_with_the_curated_schema(tmp_path):
    with pytest.raises(ConfigError, match=r"'data.text_columns' names 'a', which is not in "
                                          r"\[features\] categorical"):
        load_config(_coded(tmp_path, ["007"], 'text_columns = ["a"]'))
    config = _curated(_coded(tmp_path, ["007"], 'text_columns = ["zip"]'),
                      {"zip": "INT", "a": "FLOAT", "y": "INT"})
    assert re.match(r"'data.text_columns' names 'zip', which the curated schema "
                    r".*schema.pbtxt types INT: set its type to BYTES there", _refusal(config))


def test_a_type_the_served_model_cannot_read_is_refused_before_the_run(tmp_path):
    """The served model (version 1) was trained on zip as INT and a as FLOAT; a run reading
    either otherwise would fail comparing the new model with it, in the Evaluator."""
    config = _coded(tmp_path, ["007", "12"])
    served = load_config(config).model_dir / "1"
    served.mkdir(parents=True)
    (served / "schema.pbtxt").write_text('feature { name: "zip" type: INT }\n'
                                         'feature { name: "a" type: FLOAT }\n')
    prepare_input(load_config(config))  # the same types: nothing to say
    text = _coded(tmp_path, ["007", "12"], 'text_columns = ["zip"]')
    assert re.match(r"'data.text_columns' reads 'zip' as BYTES, but the served model "
                    r"\(version 1\) was trained on it as INT and cannot read that",
                    _refusal(text))
    config = _curated(_coded(tmp_path, ["007", "12"]),  # without text_columns again
                      {"zip": "INT", "a": "INT", "y": "INT"})
    assert re.match(r"the curated schema .*schema.pbtxt reads 'a' as INT, but the served "
                    r"model \(version 1\) was trained on it as FLOAT", _refusal(config))


def test_a_quoted_field_may_hold_line_breaks_and_a_quote_left_open_is_named(tmp_path):
    data = tmp_path / "notes.csv"
    data.write_text('a,note,y\n1.5,"two\nlines",0\n2.5,"""quoted""\r\nand more",1\n'
                    '3.5,a 5" screen,0\n', encoding="utf-8", newline="")  # a quote as written
    config = tmp_path / "notes.toml"
    config.write_text(f'[pipeline]\nname = "notes"\noutput_root = "{tmp_path / "out"}"\n'
                      f'[data]\nsource = "{data}"\n[label]\ncolumn = "y"\nkind = "binary"\n'
                      '[features]\nnumeric = ["a"]\n')
    prepared = prepare_input(load_config(config))
    assert prepared.reported == [] and [f.rows for f in prepared.files] == [3]
    data.write_text('a,note,y\n1.5,"open,0\n2.5,b,1\n3.5,c,0\n', encoding="utf-8")
    [row] = halted(load_config(config))
    assert row["kind"] == "MALFORMED_CSV", row
    assert "quote" in row["description"] and "line 2" in row["description"], row
