"""Trim the Lambda deployment package and ship it with compiled bytecode.

``chalice package`` zips every installed distribution whole and no bytecode,
so each cold start compiles every module it imports and the zip carries
files the service never loads (issue 11: 17.5 MB, 10.8 MB of it Babel
locales; 0 ``.pyc`` for 1,101 ``.py``). :func:`rebuild` rewrites a
``deployment.zip`` in place:

- **trimmed** (:data:`TRIM`, each with its reason): Babel locale data other
  than the event languages (``SUPPORTED_LANGUAGES`` in
  ``chalicelib/eventparts.py``) and ``root``, which every locale inherits from;
  PyYAML (only ``chalicelib.events.load_event_file`` reads YAML, in the
  staff tools and the local service, and imports it when called); dnspython
  (email-validator imports it only for deliverability checks, which we turn
  off: ``check_deliverability=False``); Powertools parts the functions never
  import; Werkzeug's debugger; Babel's catalog tools; pydantic's v1 copy and
  mypy plugin; test folders;
- **compiled**: every ``.py`` gets ``__pycache__/<name>.cpython-3XX.pyc``
  as an *unchecked-hash* pyc (PEP 552): Python loads it without looking at
  the source's timestamp, which matters because the zip's times are not
  kept reliably and ``/var/task`` is read-only, so a stale pyc could never
  be rewritten. The source stays for tracebacks.

The result is deterministic (sorted entries, the source's zip timestamps),
so an unchanged app gives the same asset hash and no redeploy. The same
function serves ``make deploy`` (through :class:`stacks.registration.PackagedChalice`)
and ``make package-check``; ``tests/infrastructure/test_infra_lambda_package.py``
runs the trimmed package against moto, imported as Lambda imports it.
"""
from __future__ import annotations

import ast
import fnmatch
import importlib.util
import io
import json
import marshal
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
EVENTS_MODULE = REPO_ROOT / "chalicelib" / "eventparts.py"
#: Logos the event files name (``branding.logo: assets/<file>.svg``): ``GET /static/assets/{name}``
#: serves them from ``events/assets/`` beside ``app.py``, which ``chalice package`` does not ship.
EVENT_ASSETS = REPO_ROOT / "events" / "assets"

#: Babel locale every locale's data falls back to.
BABEL_ROOT_LOCALE = "root"

#: (glob over zip entry names, reason). A name matching any is left out.
TRIM: tuple[tuple[str, str], ...] = (
    ("yaml/*", "PyYAML: only load_event_file reads YAML (staff tools, local service); lazy import"),
    ("_yaml/*", "PyYAML's C extension shim"),
    ("PyYAML-*.dist-info/*", "PyYAML's metadata"),
    ("pyyaml-*.dist-info/*", "PyYAML's metadata"),
    ("dns/*", "dnspython: email-validator imports it only for deliverability checks (off)"),
    ("dnspython-*.dist-info/*", "dnspython's metadata"),
    ("aws_lambda_powertools/event_handler/*", "Powertools' API resolvers: Chalice routes the API"),
    ("aws_lambda_powertools/utilities/idempotency/*", "Powertools utility not used"),
    ("aws_lambda_powertools/utilities/parameters/*", "Powertools utility not used"),
    ("aws_lambda_powertools/utilities/feature_flags/*", "Powertools utility not used"),
    ("aws_lambda_powertools/utilities/data_masking/*", "Powertools utility not used"),
    ("aws_lambda_powertools/utilities/streaming/*", "Powertools utility not used"),
    ("aws_lambda_powertools/utilities/validation/*", "Powertools utility not used (needs fastjsonschema)"),
    ("aws_lambda_powertools/utilities/kafka/*", "Powertools utility not used"),
    ("aws_lambda_powertools/utilities/circuit_breaker/*", "Powertools utility not used"),
    ("aws_lambda_powertools/utilities/auth_alpha/*", "Powertools utility not used"),
    ("aws_lambda_powertools/utilities/parser/envelopes/*",
     "Powertools parser envelopes: batch processing imports only the parser's record models"),
    ("aws_lambda_powertools/utilities/data_classes/cognito_user_pool_event.py",
     "Powertools event class of Cognito triggers: no such trigger"),
    ("aws_lambda_powertools/utilities/data_classes/api_gateway_authorizer_event.py",
     "Powertools event class of API Gateway authorizers: Chalice's own request object serves the API"),
    ("werkzeug/debug/*", "Werkzeug's interactive debugger and its JS/CSS: never on Lambda"),
    ("werkzeug/routing/*", "Werkzeug's URL routing: the app imports only werkzeug.http and datastructures"),
    ("werkzeug/middleware/*", "Werkzeug's WSGI middleware: not imported"),
    ("pydantic/experimental/*", "pydantic's experimental API: not imported"),
    (
        "*.dist-info/RECORD",
        "pip's list of installed files: never read at run time (METADATA, entry points and licences stay)",
    ),
    ("babel/messages/*", "Babel's catalog tools for translators: the app only formats dates"),
    ("pydantic/v1/*", "pydantic's copy of its version 1 API: not imported"),
    ("pydantic/mypy.py", "pydantic's mypy plugin"),
    ("segno/cli.py", "segno's command line: the service only calls segno.make"),
    ("segno/helpers.py", "segno's WIFI/vCard/geo helpers: not imported by segno.make"),
    ("*.pyi", "type stubs (segno, pydantic_core, typing_inspection, markupsafe): read by type checkers only"),
    ("markupsafe/_speedups.c", "the C source of markupsafe's compiled speedups: the compiled module ships"),
    ("tzdata/zoneinfo/*.tab", "tzdata's zone tables for people: zoneinfo reads the binary zones and tzdata/zones"),
    ("tzdata/zoneinfo/tzdata.zi", "tzdata's text form of every zone (for zic): zoneinfo reads the binary zones"),
    ("tzdata/zoneinfo/leapseconds", "the leap second table: zoneinfo does not read it"),
    ("segno-*.data/*", "segno's man page"),
    ("*/tests/*", "test folders of the dependencies (icalendar ships 0.24 MB)"),
    ("*/__pycache__/*", "bytecode of the build machine: replaced by our own"),
    ("*.pyc", "bytecode of the build machine: replaced by our own"),
)


def supported_languages(events_module: Path = EVENTS_MODULE) -> tuple[str, ...]:
    """``SUPPORTED_LANGUAGES`` of ``chalicelib/eventparts.py``, read without importing the app."""
    tree = ast.parse(events_module.read_text(encoding="utf-8"))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == "SUPPORTED_LANGUAGES" for t in targets):
            return tuple(ast.literal_eval(node.value))
    raise ValueError(f"no SUPPORTED_LANGUAGES in {events_module}")


def babel_locale_kept(name: str, languages: tuple[str, ...]) -> bool:
    """Whether ``babel/locale-data/<name>`` stays: a language's own file or ``root``.

    ``Locale.parse("nl")`` loads ``nl.dat`` merged over ``root.dat``; regional
    variants (``nl_BE``, ``en_GB``) are never asked for, since the app passes
    the bare language code.
    """
    stem = name.rsplit("/", 1)[-1].removesuffix(".dat")
    return stem == BABEL_ROOT_LOCALE or stem in languages


def trim_reason(name: str, languages: tuple[str, ...]) -> str | None:
    """Why zip entry ``name`` is left out of the package, or ``None`` to keep it."""
    if name.startswith("babel/locale-data/") and not babel_locale_kept(name, languages):
        return "Babel locale data of a language no event is written in"
    for pattern, reason in TRIM:
        if fnmatch.fnmatchcase(name, pattern):
            return reason
    return None


@dataclass
class RebuildReport:
    """What :func:`rebuild` did to one zip."""

    bytes_before: int
    bytes_after: int = 0
    py_files: int = 0
    pyc_files: int = 0
    not_compiled: list[str] = field(default_factory=list)
    trimmed: dict[str, int] = field(default_factory=dict)  # reason -> uncompressed bytes

    def summary(self) -> str:
        """One line for the build log."""
        saved = sum(self.trimmed.values())
        return (
            f"Lambda package: {self.bytes_before / 1e6:.1f} MB -> {self.bytes_after / 1e6:.1f} MB "
            f"({saved / 1e6:.1f} MB of unused files trimmed; {self.pyc_files} of "
            f"{self.py_files} modules compiled)"
        )


def functions_runtime(sam_template: Path) -> str:
    """The one Lambda runtime (``python3.11``) of the functions in Chalice's ``sam.json``.

    Raises ``ValueError`` if the functions disagree (bytecode fits one version).
    """
    resources = json.loads(Path(sam_template).read_text())["Resources"].values()
    runtimes = {
        r["Properties"]["Runtime"] for r in resources if r["Type"] == "AWS::Serverless::Function"
    }
    if len(runtimes) != 1:
        raise ValueError(f"expected one Lambda runtime, found {sorted(runtimes)}")
    return runtimes.pop()


def runtime_tag(runtime: str) -> str:
    """The bytecode tag of a Lambda ``Runtime`` (``python3.11`` -> ``cpython-311``).

    Raises ``ValueError`` when this interpreter cannot write bytecode for it:
    a pyc for another Python version would be ignored (and cost a compile).
    """
    wanted = runtime.removeprefix("python")
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if wanted != here:
        raise ValueError(
            f"the Lambda runtime is {runtime} but this is Python {here}: bytecode would not "
            "match (run make with the Python of the runtime)"
        )
    return sys.implementation.cache_tag


#: PEP 552 flags word: hash-based (bit 0), source not checked (bit 1 clear).
UNCHECKED_HASH_FLAGS = 0b01


def compile_pyc(source: bytes, name: str) -> bytes:
    """An unchecked-hash pyc (PEP 552) of ``source``, as ``py_compile`` writes with
    ``PycInvalidationMode.UNCHECKED_HASH``: magic number, flags, the source's
    SipHash, then the marshalled code. Raises ``SyntaxError``.
    """
    code = compile(source, name, "exec", dont_inherit=True, optimize=0)
    return (
        importlib.util.MAGIC_NUMBER
        + UNCHECKED_HASH_FLAGS.to_bytes(4, "little")
        + importlib.util.source_hash(source)
        + marshal.dumps(code)
    )


def pyc_name(name: str, tag: str) -> str:
    """Where Python looks for the bytecode of ``name`` (``pkg/mod.py`` ->
    ``pkg/__pycache__/mod.<tag>.pyc``)."""
    folder, _, module = name.rpartition("/")
    cached = f"__pycache__/{module[:-3]}.{tag}.pyc"
    return f"{folder}/{cached}" if folder else cached


def rebuild(
    zip_path: Path,
    runtime: str = f"python{sys.version_info.major}.{sys.version_info.minor}",
    *,
    bytecode: bool = True,
    languages: tuple[str, ...] | None = None,
    event_assets: Path | None = EVENT_ASSETS,
) -> RebuildReport:
    """Trim ``zip_path`` and (with ``bytecode``) add compiled modules, in place.

    ``runtime`` is the functions' Lambda runtime (``python3.11``); bytecode is
    written for it and only if this interpreter is that version (else
    ``ValueError``). Files that do not compile (none today) stay as source.
    The SVG files of ``event_assets`` are added as ``events/assets/<name>``.
    """
    zip_path = Path(zip_path)
    languages = languages or supported_languages()
    tag = runtime_tag(runtime) if bytecode else ""
    report = RebuildReport(bytes_before=zip_path.stat().st_size)
    entries: list[tuple[zipfile.ZipInfo, bytes]] = []
    with zipfile.ZipFile(zip_path) as source:
        for info in source.infolist():
            if info.is_dir():
                continue
            reason = trim_reason(info.filename, languages)
            if reason:
                report.trimmed[reason] = report.trimmed.get(reason, 0) + info.file_size
                continue
            entries.append((info, source.read(info)))
    if event_assets is not None and Path(event_assets).is_dir():
        for asset in sorted(Path(event_assets).glob("*.svg")):
            info = zipfile.ZipInfo(f"events/assets/{asset.name}", date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            entries.append((info, asset.read_bytes()))
    compiled: list[tuple[zipfile.ZipInfo, bytes]] = []
    for info, data in entries:
        if not info.filename.endswith(".py"):
            continue
        report.py_files += 1
        if not bytecode:
            continue
        try:
            pyc = compile_pyc(data, info.filename)
        except (SyntaxError, ValueError):
            report.not_compiled.append(info.filename)
            continue
        pyc_info = zipfile.ZipInfo(pyc_name(info.filename, tag), date_time=info.date_time)
        pyc_info.external_attr = 0o644 << 16
        compiled.append((pyc_info, pyc))
    report.pyc_files = len(compiled)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info, data in sorted(entries + compiled, key=lambda pair: pair[0].filename):
            copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            copy.external_attr = info.external_attr or (0o644 << 16)
            copy.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(copy, data, compresslevel=9)
    zip_path.write_bytes(buffer.getvalue())
    report.bytes_after = zip_path.stat().st_size
    return report
