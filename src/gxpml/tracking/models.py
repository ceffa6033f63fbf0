"""Saving and loading models safely.

Models are saved with skops (``skops.io``), which stores an estimator's state without
pickle and, on load, constructs only types it is told to trust. A type that skops does not
trust by default is trusted automatically only when it comes from the model library itself
(scikit-learn, XGBoost, LightGBM) or is a plain standard-library container such as
``OrderedDict``; any other (a function or class of the caller's code) must
be vouched for explicitly with ``trusted=[...]``, and the record names it. A raw pickle,
which can run any code when loaded, is written only with ``allow_pickle=True`` and read only
with ``allow_pickle=True`` again.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import pickle
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gxpml.errors import ConfigError, IntegrityError, InvalidInput

__all__ = ["LIBRARY_PREFIXES", "SavedModel", "deserialize", "example_bytes", "needs_vouching", "serialize", "signature_of"]

#: Modules whose types skops may construct without the caller vouching for them.
LIBRARY_PREFIXES = ("sklearn.", "xgboost.", "lightgbm.")
#: Plain data containers of the standard library that model libraries keep in their state
#: (LightGBM's estimators hold an ``OrderedDict``); constructing one runs no caller code.
STANDARD_DATA_TYPES = frozenset({"collections.OrderedDict"})


def needs_vouching(type_name: str) -> bool:
    """True for a type that neither its model library nor the standard library's plain data
    containers account for: someone must review it and pass ``trusted=[...]``."""
    return not type_name.startswith(LIBRARY_PREFIXES) and type_name not in STANDARD_DATA_TYPES
_FLAVORS = (("xgboost", "xgboost"), ("lightgbm", "lightgbm"), ("sklearn", "sklearn"))


def _skops() -> Any:
    try:
        import skops.io
    except ImportError as exc:  # pragma: no cover - skops ships with the ml extra
        raise ConfigError("Logging and loading models needs skops: pip install skops.") from exc
    return skops.io


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def flavor_of(model: Any) -> str:
    module = type(model).__module__
    for prefix, flavor in _FLAVORS:
        if module == prefix or module.startswith(prefix + "."):
            return flavor
    if hasattr(model, "fit") and hasattr(model, "get_params"):
        return "sklearn"  # a scikit-learn compatible estimator of the caller's own
    raise InvalidInput(
        f"Cannot log a {type(model).__module__}.{type(model).__name__} as a model: log_model takes "
        "scikit-learn (and XGBoost, LightGBM) estimators. Store other files with run.log_artifact."
    )


@dataclass(frozen=True)
class SavedModel:
    """A serialized model and what its record says about it."""

    data: bytes
    flavor: str
    format: str
    trusted_types: tuple[str, ...]
    vouched_types: tuple[str, ...]
    libraries: dict[str, str]


def untrusted_types(data: bytes) -> list[str]:
    """The types in skops ``data`` that skops does not trust by default."""
    sio = _skops()
    try:
        return sorted(sio.get_untrusted_types(data=data))
    except Exception as exc:  # a zip or JSON error: whatever it is, it is not a skops file
        raise InvalidInput(f"The model file is not a skops file ({type(exc).__name__}: {exc}).") from exc


def serialize(model: Any, *, trusted: Sequence[str] | None = None, allow_pickle: bool = False) -> SavedModel:
    """``model`` as skops bytes (or pickle bytes, only with ``allow_pickle=True``)."""
    flavor = flavor_of(model)
    vouched = tuple(sorted(set(trusted or ())))
    libraries = {name: v for name in ("scikit-learn", "skops", "xgboost", "lightgbm", "numpy")
                 if (v := _version(name)) is not None}
    try:
        data = canonical_skops(_skops().dumps(model))
    except Exception as exc:  # skops raises many kinds of error for objects it cannot save
        if not allow_pickle:
            raise InvalidInput(
                f"skops cannot save this {type(model).__name__} ({type(exc).__name__}: {exc}). Logging it as a raw "
                "pickle, which runs arbitrary code when loaded, needs allow_pickle=True."
            ) from exc
        return _pickled(model, flavor, libraries)
    untrusted = untrusted_types(data)
    unknown = [t for t in untrusted if needs_vouching(t) and t not in vouched]
    if unknown:
        if allow_pickle:
            return _pickled(model, flavor, libraries)
        raise InvalidInput(
            f"The model holds types that are not part of its library: {', '.join(unknown)}. Loading them "
            "could run code that nobody reviewed. Review them and pass trusted=[...] naming them, or make "
            "the model from library types only."
        )
    return SavedModel(data=data, flavor=flavor, format="skops", trusted_types=tuple(untrusted),
                      vouched_types=tuple(t for t in vouched if t in untrusted), libraries=libraries)


_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def canonical_skops(data: bytes) -> bytes:
    """``data`` (a skops file) rewritten so that the same model always gives the same bytes.

    skops names its members and memo ids after ``id()`` of the objects it saved and stamps
    each member with the time of saving; two saves of one model therefore differ. Here ids
    and member names are renumbered in the order the schema reaches them and every member is
    stamped 1980-01-01, so a reproduced run can match its model byte for byte. skops reads
    members only by the names its schema gives, so the file loads exactly as before.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        names = set(source.namelist())
        schema = json.loads(source.read("schema.json"))
        ids: dict[int, int] = {}
        files: dict[str, str] = {}

        def renumber(node: Any) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "__id__" and isinstance(value, int) and not isinstance(value, bool):
                        node[key] = ids.setdefault(value, len(ids) + 1)  # skops skips a memo id of 0
                    elif key == "file" and isinstance(value, str) and value in names:
                        suffix = value[value.rfind("."):] if "." in value else ""
                        node[key] = files.setdefault(value, f"{len(files) + 1:06d}{suffix}")
                    else:
                        renumber(value)
            elif isinstance(node, list):
                for item in node:
                    renumber(item)

        renumber(schema)
        if names - {"schema.json"} != set(files):
            return data  # a layout this code does not know: keep skops' own bytes
        members = [(new, source.read(old)) for old, new in files.items()]
    members.append(("schema.json", json.dumps(schema, indent=2).encode("utf-8")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as target:
        for name, content in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.create_system = 3
            info.external_attr = 0o600 << 16
            target.writestr(info, content)
    return buffer.getvalue()


def _pickled(model: Any, flavor: str, libraries: dict[str, str]) -> SavedModel:
    return SavedModel(data=pickle.dumps(model, protocol=5), flavor=flavor, format="pickle",
                      trusted_types=(), vouched_types=(), libraries=libraries)


def deserialize(data: bytes, *, format: str, trusted_types: Sequence[str], allow_pickle: bool, what: str) -> Any:
    """Construct the model from verified ``data``, trusting only the recorded types."""
    if format == "pickle":
        if not allow_pickle:
            raise InvalidInput(
                f"{what} was saved as a raw pickle; loading it can run arbitrary code. Pass "
                "allow_pickle=True only if you trust whoever logged it (see the run's audit trail)."
            )
        return pickle.loads(data)  # the caller opted in explicitly
    sio = _skops()
    unexpected = sorted(set(untrusted_types(data)) - set(trusted_types))
    if unexpected:
        raise IntegrityError(f"{what} holds types its record does not trust ({', '.join(unexpected)}); it is not loaded.")
    return sio.loads(data, trusted=list(trusted_types))


def signature_of(model: Any, input_example: Any) -> dict[str, Any]:
    """The model's input: column names and dtypes from the example, else what the fitted
    estimator knows (``feature_names_in_``, ``n_features_in_``)."""
    if input_example is not None:
        columns = getattr(input_example, "columns", None)
        dtypes = getattr(input_example, "dtypes", None)
        if columns is not None and dtypes is not None:  # a pandas DataFrame
            return {"inputs": [{"name": str(c), "dtype": str(t)} for c, t in zip(columns, dtypes, strict=True)],
                    "from": "input_example"}
        shape = getattr(input_example, "shape", None)
        dtype = getattr(input_example, "dtype", None)
        if shape is not None and dtype is not None and len(shape) == 2:  # a 2-d array
            return {"inputs": [{"name": None, "dtype": str(dtype)} for _ in range(shape[1])], "from": "input_example"}
        raise InvalidInput(
            f"input_example must be a pandas DataFrame or a 2-d numpy array, got {type(input_example).__name__}."
        )
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return {"inputs": [{"name": str(n), "dtype": None} for n in names], "from": "model"}
    count = getattr(model, "n_features_in_", None)
    if count is not None:
        return {"inputs": [{"name": None, "dtype": None} for _ in range(int(count))], "from": "model"}
    return {"inputs": None, "from": None}


def example_bytes(input_example: Any) -> bytes:
    """The input example as JSON (``orient="split"`` for a DataFrame, nested lists for an array)."""
    to_json = getattr(input_example, "to_json", None)
    if callable(to_json) and hasattr(input_example, "columns"):
        text = to_json(orient="split", date_format="iso", double_precision=15, index=False)
        return str(text).encode("utf-8")
    tolist = getattr(input_example, "tolist", None)
    if callable(tolist):
        buffer = io.StringIO()
        json.dump({"data": tolist(), "dtype": str(getattr(input_example, "dtype", ""))}, buffer,
                  sort_keys=True, separators=(",", ":"))
        return buffer.getvalue().encode("utf-8")
    raise InvalidInput(f"input_example must be a pandas DataFrame or a numpy array, got {type(input_example).__name__}.")
