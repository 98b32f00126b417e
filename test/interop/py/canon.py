"""Canonical, type-faithful JSON form of Arrow data, shared by the interop helpers.

The TypeScript side (test/interop/helpers.ts) produces the same form from tweetlake's scans, so two
engines agree exactly when their canonical rows are equal:

- integers -> decimal string; decimals -> plain string with all scale digits ('1.20')
- floats -> Python repr ('0.1', '1e+16', 'nan', 'inf', '-inf', '-0.0')
- dates -> 'YYYY-MM-DD' (years 1..9999), else 'days:<days since epoch>'
- timestamps -> 'YYYY-MM-DDTHH:MM:SS.ffffff' + 'Z' when zoned (UTC), else 'us:<micros since epoch>'
- binary -> lowercase hex; strings and booleans as they are; null -> None
- structs -> dict; lists -> list; maps -> [[key, value], ...] sorted by their JSON text
"""

import datetime
import hashlib
import json
import math
import sys

import pyarrow as pa

_EPOCH = datetime.datetime(1970, 1, 1)
_MIN_US = int((datetime.datetime(1, 1, 1) - _EPOCH) / datetime.timedelta(microseconds=1))
_MAX_US = int((datetime.datetime(9999, 12, 31, 23, 59, 59, 999999) - _EPOCH) / datetime.timedelta(microseconds=1))
_MIN_DAYS = (datetime.date(1, 1, 1) - datetime.date(1970, 1, 1)).days
_MAX_DAYS = (datetime.date(9999, 12, 31) - datetime.date(1970, 1, 1)).days


def canon_float(x):
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "nan"
    return repr(x)


def canon_timestamp_us(us, zoned):
    if us is None:
        return None
    if us < _MIN_US or us > _MAX_US:
        return f"us:{us}"
    text = (_EPOCH + datetime.timedelta(microseconds=us)).isoformat(timespec="microseconds")
    return text + ("Z" if zoned else "")


def canon_date_days(days):
    if days is None:
        return None
    if days < _MIN_DAYS or days > _MAX_DAYS:
        return f"days:{days}"
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=days)).isoformat()


def json_text(value):
    """The JSON text both sides sort by (keys sorted, no spaces, non-ASCII kept)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canon_array(arr):
    """Canonical Python values of every slot of an Arrow array (or chunked array)."""
    if isinstance(arr, pa.ChunkedArray):
        out = []
        for chunk in arr.chunks:
            out.extend(canon_array(chunk))
        return out
    t = arr.type
    if pa.types.is_dictionary(t):
        return canon_array(arr.dictionary_decode())
    if isinstance(t, pa.BaseExtensionType):
        return canon_array(arr.storage)
    valid = arr.is_valid().to_pylist()
    if pa.types.is_struct(t):
        names = [t.field(i).name for i in range(t.num_fields)]
        children = [canon_array(arr.field(i)) for i in range(t.num_fields)]
        return [
            {n: c[i] for n, c in zip(names, children)} if valid[i] else None for i in range(len(arr))
        ]
    if pa.types.is_fixed_size_list(t):
        flat = canon_array(arr.flatten())
        n = t.list_size
        return [flat[i * n : (i + 1) * n] if valid[i] else None for i in range(len(arr))]
    if pa.types.is_map(t) or pa.types.is_list(t) or pa.types.is_large_list(t):
        # offsets index the (unsliced) child array, so they stay right for sliced arrays and null slots
        offsets = arr.offsets.to_pylist()
        values = arr.values
        if pa.types.is_map(t):
            keys = canon_array(values.field(0))
            items = canon_array(values.field(1))
        else:
            flat = canon_array(values)
        out = []
        for i in range(len(arr)):
            if not valid[i]:
                out.append(None)
                continue
            lo, hi = offsets[i], offsets[i + 1]
            if pa.types.is_map(t):
                out.append(sorted(([keys[j], items[j]] for j in range(lo, hi)), key=json_text))
            else:
                out.append(flat[lo:hi])
        return out
    if hasattr(pa.types, "is_list_view") and (pa.types.is_list_view(t) or pa.types.is_large_list_view(t)):
        return canon_array(arr.cast(pa.large_list(t.value_type)))
    if pa.types.is_timestamp(t):
        us = arr.cast(pa.timestamp("us", tz=t.tz), safe=False).cast(pa.int64()).to_pylist()
        return [canon_timestamp_us(v, t.tz is not None) for v in us]
    if pa.types.is_date32(t) or pa.types.is_date64(t):
        days = arr.cast(pa.date32()).cast(pa.int32()).to_pylist()
        return [canon_date_days(v) for v in days]
    if pa.types.is_decimal(t):
        return [None if v is None else format(v, "f") for v in arr.to_pylist()]
    if pa.types.is_floating(t):
        return [canon_float(v) for v in arr.to_pylist()]
    if pa.types.is_integer(t):
        return [None if v is None else str(v) for v in arr.to_pylist()]
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t) or (
        hasattr(pa.types, "is_binary_view") and pa.types.is_binary_view(t)
    ):
        return [None if v is None else v.hex() for v in arr.to_pylist()]
    if pa.types.is_null(t):
        return [None] * len(arr)
    # strings, booleans
    return arr.to_pylist()


def canon_table(table):
    """Canonical rows of an Arrow table: a list of {column: value}, sorted by their JSON text."""
    names = table.column_names
    columns = [canon_array(table.column(i)) for i in range(table.num_columns)]
    rows = [{n: c[i] for n, c in zip(names, columns)} for i in range(table.num_rows)]
    rows.sort(key=json_text)
    return rows


def rows_summary(table, max_rows=5000):
    """{numRows, digest, rows?}: the sha256 of the sorted rows' JSON lines; the rows themselves when few."""
    names = table.column_names
    columns = [canon_array(table.column(i)) for i in range(table.num_columns)]
    lines = sorted(json_text({n: c[i] for n, c in zip(names, columns)}) for i in range(table.num_rows))
    out = {
        "numRows": table.num_rows,
        "digest": hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest(),
    }
    if table.num_rows <= max_rows:
        out["rows"] = [json.loads(line) for line in lines]
    else:
        out["rowsHead"] = [json.loads(line) for line in lines[:20]]
    return out


def emit(obj, out_path=None):
    """Writes the result as JSON to a file (when given) or stdout."""
    text = json.dumps(obj, ensure_ascii=False)
    if out_path:
        with open(out_path, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
